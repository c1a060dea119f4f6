/**
 * Helpers for the fault and hostile-input suites: a WebSocket echo server in
 * a child process that can be killed, and raw HTTP requests no client library
 * would send.
 *
 * @module
 */

import { readHead, writeAll } from "./_raw_server.ts";
import { DenoProcess, type Finished } from "./_subprocess.ts";

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
 * response head and closes: for handshakes no client library would send.
 */
export async function rawRequest(
  port: number,
  lines: string[],
): Promise<{ status: number; head: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const request = [...lines, "", ""].join("\r\n");
    await writeAll(conn, new TextEncoder().encode(request));
    const response = await readHead(conn);
    if (response === null) {
      throw new Error("The server closed the connection before its response");
    }
    const { head } = response;
    return {
      status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? NaN),
      head,
    };
  } finally {
    conn.close();
  }
}
