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

/** The streams a {@linkcode streamHandler} upgraded, and what it answered. */
export interface StreamAcceptor {
  /** The next upgraded stream, in the order the requests arrived. */
  accept(): Promise<WebSocketStream>;
  /** Errors `upgradeWebSocketStream` threw; each request got a 500. */
  readonly errors: unknown[];
  /** The status of every response the handler returned, in order. */
  readonly statuses: number[];
}

/** A running server of {@linkcode WebSocketStream}s. */
export interface StreamServer extends TestServer, StreamAcceptor {}

/** Options for every request, or a function of the request. */
export type OptionsFor =
  | UpgradeWebSocketStreamOptions
  | ((request: Request) => UpgradeWebSocketStreamOptions);

/**
 * A `Deno.serve` handler calling `upgradeWebSocketStream(request, options)`,
 * for servers a test starts itself.
 */
export function streamHandler(
  options: OptionsFor = {},
): StreamAcceptor & { handler: (request: Request) => Response } {
  const upgraded = upgradedStreams();
  const errors: unknown[] = [];
  const statuses: number[] = [];
  const handler = (request: Request): Response => {
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
    if (upgrade.stream !== undefined) upgraded.push(upgrade.stream);
    return upgrade.response;
  };
  return { handler, errors, statuses, accept: upgraded.accept };
}

/**
 * The streams a server upgraded, handed to `accept()` callers in arrival
 * order, whichever comes first.
 */
export function upgradedStreams(): {
  push(stream: WebSocketStream): void;
  accept(): Promise<WebSocketStream>;
} {
  const ready: WebSocketStream[] = [];
  const waiting: PromiseWithResolvers<WebSocketStream>[] = [];
  return {
    push(stream) {
      const next = waiting.shift();
      if (next === undefined) ready.push(stream);
      else next.resolve(stream);
    },
    accept() {
      const stream = ready.shift();
      if (stream !== undefined) return Promise.resolve(stream);
      const next = Promise.withResolvers<WebSocketStream>();
      waiting.push(next);
      return next.promise;
    },
  };
}

/**
 * Serves `upgradeWebSocketStream(request, options)` on an ephemeral loopback
 * port.
 */
export function startStreamServer(options: OptionsFor = {}): StreamServer {
  const { handler, ...acceptor } = streamHandler(options);
  return { ...serve(handler), ...acceptor };
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
