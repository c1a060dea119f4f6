/**
 * Helpers for the fault, hostile-input and fuzz suites: waiting for a promise
 * to settle within a bound, checking the errors a connection ends with, and a
 * WebSocket echo server in a child process that can be killed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { WebSocketError } from "../mod.ts";
import { DenoProcess, type Finished } from "./_subprocess.ts";

/** How a promise settled. */
export type Settled<T> =
  | { status: "fulfilled"; value: T }
  | { status: "rejected"; reason: unknown };

/**
 * Waits for `promise` to settle, failing the test if it has not within `ms`
 * milliseconds: a hang becomes an assertion, not a stuck run.
 */
export async function settleWithin<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<Settled<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not settle within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([
      promise.then(
        (value): Settled<T> => ({ status: "fulfilled", value }),
        (reason): Settled<T> => ({ status: "rejected", reason }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts that `promise` rejects within `ms` and returns the reason. */
export async function rejectionWithin(
  promise: Promise<unknown>,
  ms: number,
  what: string,
): Promise<unknown> {
  const settled = await settleWithin(promise, ms, what);
  assert.equal(settled.status, "rejected", `${what} should reject`);
  return (settled as { reason: unknown }).reason;
}

/** Asserts that `promise` fulfils within `ms` and returns the value. */
export async function fulfilmentWithin<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  const settled = await settleWithin(promise, ms, what);
  if (settled.status === "rejected") {
    assert.fail(`${what} should fulfil, rejected with ${settled.reason}`);
  }
  return settled.value;
}

/**
 * Asserts that `error` is a {@linkcode WebSocketError} with `closeCode` whose
 * message matches `message`.
 */
export function assertWebSocketError(
  error: unknown,
  closeCode: number | null,
  message: RegExp,
): asserts error is WebSocketError {
  assert.ok(
    error instanceof WebSocketError,
    `expected a WebSocketError, got ${error}`,
  );
  assert.equal(error.closeCode, closeCode, `closeCode of "${error.message}"`);
  assert.match(error.message, message);
}

/** Asserts that `error` is a DOMException named `name`. */
export function assertDOMException(error: unknown, name: string): void {
  assert.ok(
    error instanceof DOMException,
    `expected a DOMException ${name}, got ${error}`,
  );
  assert.equal(error.name, name, error.message);
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An echo server running in a child Deno process. */
export interface ChildEchoServer extends AsyncDisposable {
  /** `ws://127.0.0.1:PORT` */
  readonly url: string;
  /** Kills the process with SIGKILL: every connection drops at once. */
  kill(): void;
  /** Waits for the process to exit (killing it first if still running). */
  close(): Promise<Finished>;
}

/**
 * Starts `examples/echo_server.ts` in a child process on a free port and
 * waits for it to print its URL.
 */
export async function startChildEchoServer(): Promise<ChildEchoServer> {
  const child = new DenoProcess([
    "run",
    "--allow-net=127.0.0.1",
    "examples/echo_server.ts",
    "0",
  ]);
  let url: string;
  try {
    [url] = await child.waitForStdout(/ws:\/\/127\.0\.0\.1:\d+/);
  } catch (error) {
    await child[Symbol.asyncDispose]();
    throw error;
  }
  const close = async () => {
    await child[Symbol.asyncDispose]();
    return await child.finished();
  };
  return {
    url,
    kill: () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // It already exited.
      }
    },
    close,
    [Symbol.asyncDispose]: async () => {
      await close();
    },
  };
}

/**
 * Sends `lines` as an HTTP request head to `127.0.0.1:port`, reads the
 * response until the server closes or its head is complete, and closes: for
 * handshakes no client library would send.
 */
export async function rawRequest(
  port: number,
  lines: string[],
): Promise<{ status: number; head: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const request = [...lines, "", ""].join("\r\n");
    await conn.write(new TextEncoder().encode(request));
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(4096);
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      const read = await conn.read(buffer);
      if (read === null) break;
      head += decoder.decode(buffer.subarray(0, read));
    }
    return {
      status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? NaN),
      head: head.split("\r\n\r\n")[0]!,
    };
  } finally {
    conn.close();
  }
}
