/**
 * Interop with Python's `websockets` (Debian's python3-websockets), an
 * independent RFC 6455 implementation: as the client of our server on each
 * server path, and as the server for our socket-transport client.
 *
 * @module
 */

import assert from "node:assert/strict";
import { WebSocketStream } from "../mod.ts";
import { BOUND_MS, fulfilmentWithin } from "./_assert.ts";
import { findPeer, peerPath, peerTest } from "./_peers.ts";
import { serverTest } from "./_server_paths.ts";

const CLIENT = new URL("./peers/python_client.py", import.meta.url);
const SERVER = new URL("./peers/python_echo_server.py", import.meta.url);
const PYTHON_TIMEOUT_MS = 30_000;

const python = findPeer("python");

serverTest(
  "INT-06 Python websockets as the client of our server: echo, ten Pings, and its close code",
  async (path) => {
    await using server = await path.start({ protocol: "chat" });
    const run = new Deno.Command(peerPath(python), {
      args: [CLIENT.pathname, `${server.url}/py`],
      stdin: "null",
      signal: AbortSignal.timeout(PYTHON_TIMEOUT_MS),
    }).output();
    const decoder = new TextDecoder();
    // A client that fails before connecting must fail the test, not hang it.
    const stream = await Promise.race([
      server.accept(),
      run.then(({ stderr }) => {
        throw new Error(
          `the Python client ended before connecting: ${
            decoder.decode(stderr)
          }`,
        );
      }),
    ]);
    const { readable, writable } = await stream.opened;
    readable.pipeTo(writable).catch(() => {});
    const { code, stdout, stderr } = await run;
    assert.equal(code, 0, decoder.decode(stderr));
    assert.deepEqual(JSON.parse(decoder.decode(stdout)), {
      protocol: "chat",
      text: "héllo",
      binary_ok: true,
      pongs: 10,
      close_code: 4001,
    });
    assert.deepEqual(
      await fulfilmentWithin(stream.closed, BOUND_MS, "closed"),
      { closeCode: 4001, reason: "from python" },
    );
  },
  [python],
);

peerTest(
  python,
  "interop: our socket-transport client against a Python websockets echo server",
  async (pythonPath) => {
    const child = new Deno.Command(pythonPath, {
      args: [SERVER.pathname],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
      signal: AbortSignal.timeout(PYTHON_TIMEOUT_MS),
    }).spawn();
    const lines = readLines(child.stdout);
    try {
      const port = Number(await lines.next());
      const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`, {
        transport: "socket",
      });
      const { readable, writable } = await fulfilmentWithin(
        wss.opened,
        BOUND_MS,
        "opened",
      );
      const writer = writable.getWriter();
      const reader = readable.getReader();
      const big = new Uint8Array(2_000_000).map((_, i) => i % 253);
      for (const message of ["héllo", big, ""]) {
        await writer.write(message);
        assert.deepEqual((await reader.read()).value, message);
      }
      wss.close({ closeCode: 4002, reason: "from deno" });
      assert.deepEqual(
        await fulfilmentWithin(wss.closed, BOUND_MS, "closed"),
        { closeCode: 4002, reason: "from deno" },
      );
      assert.deepEqual(JSON.parse(await lines.next()), {
        code: 4002,
        reason: "from deno",
      });
    } finally {
      await lines.cancel();
      await child.status;
    }
  },
);

/** Reads `stream` line by line; `next()` rejects at its end. */
function readLines(stream: ReadableStream<Uint8Array>) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  return {
    async next(): Promise<string> {
      while (!buffered.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("The process ended before the line");
        buffered += value;
      }
      const end = buffered.indexOf("\n");
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      return line;
    },
    cancel: () => reader.cancel(),
  };
}
