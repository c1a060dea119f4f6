/**
 * A `Deno.serve` server whose handler is `upgradeWebSocketStream`, the code
 * under test in the server role, with the upgraded streams handed to the test
 * in arrival order.
 *
 * @module
 */

import {
  upgradeWebSocketStream,
  type UpgradeWebSocketStreamOptions,
  type WebSocketStream,
} from "../mod.ts";
import { serve, type TestServer } from "./_wpt_server.ts";

/** A running server of {@linkcode WebSocketStream}s. */
export interface StreamServer extends TestServer {
  /** The next upgraded stream, in the order the requests arrived. */
  accept(): Promise<WebSocketStream>;
  /** Errors `upgradeWebSocketStream` threw; each request got a 500. */
  readonly errors: unknown[];
  /** The status of every response the handler returned, in order. */
  readonly statuses: number[];
}

/**
 * Serves `upgradeWebSocketStream(request, options)` on an ephemeral loopback
 * port. `options` may be a function of the request, for per-path settings.
 */
export function startStreamServer(
  options:
    | UpgradeWebSocketStreamOptions
    | ((request: Request) => UpgradeWebSocketStreamOptions) = {},
): StreamServer {
  const ready: WebSocketStream[] = [];
  const waiting: PromiseWithResolvers<WebSocketStream>[] = [];
  const errors: unknown[] = [];
  const statuses: number[] = [];
  const server = serve((request) => {
    let upgrade;
    try {
      upgrade = upgradeWebSocketStream(
        request,
        typeof options === "function" ? options(request) : options,
      );
    } catch (error) {
      errors.push(error);
      statuses.push(500);
      return new Response("Upgrade failed\n", { status: 500 });
    }
    statuses.push(upgrade.response.status);
    if (upgrade.stream !== undefined) {
      const next = waiting.shift();
      if (next === undefined) ready.push(upgrade.stream);
      else next.resolve(upgrade.stream);
    }
    return upgrade.response;
  });
  return {
    ...server,
    errors,
    statuses,
    accept() {
      const stream = ready.shift();
      if (stream !== undefined) return Promise.resolve(stream);
      const next = Promise.withResolvers<WebSocketStream>();
      waiting.push(next);
      return next.promise;
    },
  };
}

/** Echoes every message back until the connection ends. */
export function echo(stream: WebSocketStream): void {
  stream.opened.then(({ readable, writable }) => readable.pipeTo(writable))
    // The pipe ends with an error whenever the connection ends.
    .catch(() => {});
}

/** Reads every message until the readable ends; rejects if it errors. */
export async function readAll(
  readable: ReadableStream<string | Uint8Array>,
): Promise<(string | Uint8Array)[]> {
  const messages: (string | Uint8Array)[] = [];
  for await (const message of readable) messages.push(message);
  return messages;
}

/** Reads exactly `count` messages and releases the reader. */
export async function readCount(
  readable: ReadableStream<string | Uint8Array>,
  count: number,
): Promise<(string | Uint8Array)[]> {
  const reader = readable.getReader();
  const messages: (string | Uint8Array)[] = [];
  try {
    while (messages.length < count) {
      const { value, done } = await reader.read();
      if (done) {
        throw new Error(
          `Expected ${count} messages, the stream ended after ${messages.length}`,
        );
      }
      messages.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return messages;
}
