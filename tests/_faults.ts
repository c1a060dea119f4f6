/**
 * Helpers for the fault, hostile-input and fuzz suites: waiting for a promise
 * to settle within a bound, checking the errors a connection ends with, and a
 * WebSocket echo server in a child process that can be killed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { WebSocketError } from "../mod.ts";

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
  close(): Promise<Deno.CommandStatus>;
}

/**
 * Starts `tests/_echo_server_main.ts` in a child process and waits for it to
 * report its port.
 */
export async function startChildEchoServer(): Promise<ChildEchoServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      new URL("./_echo_server_main.ts", import.meta.url).pathname,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) break;
    text += value;
  }
  // The rest of stdout is not needed; cancelling it closes the pipe.
  await lines.cancel();
  const port = Number(/^listening (\d+)$/m.exec(text)?.[1]);
  let exited = false;
  const status = child.status.finally(() => exited = true);
  const kill = () => {
    if (!exited) child.kill("SIGKILL");
  };
  if (!Number.isInteger(port)) {
    kill();
    await status;
    throw new Error(`The echo server child did not report a port: "${text}"`);
  }
  const close = async () => {
    kill();
    return await status;
  };
  return {
    url: `ws://127.0.0.1:${port}`,
    kill,
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
