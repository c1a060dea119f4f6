/**
 * `deno serve --parallel` with two workers, each with its own hub, sharing a
 * topic over `BroadcastChannelEngine`: clients of both workers get every
 * message.
 *
 * @module
 */

import assert from "node:assert/strict";
import { WebSocketStream } from "../mod.ts";
import { delay } from "./_assert.ts";
import { DenoProcess } from "./_subprocess.ts";

Deno.test("HUB-03 hub over BroadcastChannelEngine: the clients of both `deno serve --parallel` workers get every message, in each publisher's order", async () => {
  await using server = new DenoProcess([
    "serve",
    "--parallel",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--allow-net=127.0.0.1",
    "tests/fixtures/hub_parallel_server.ts",
  ], { env: { DENO_JOBS: "2" } });
  const [, port] = await server.waitForStderr(
    /Listening on http:\/\/127\.0\.0\.1:(\d+)\/ with 2 threads/,
  );
  // Connections are spread by the kernel among the workers listening, and
  // the second may start listening after the first says so: connect, a
  // little apart, until both serve some (bounded), then keep them all.
  const clients: {
    stream: WebSocketStream;
    reader: ReadableStreamDefaultReader<string | Uint8Array>;
    writer: WritableStreamDefaultWriter<string | Uint8Array>;
    worker: string;
  }[] = [];
  const workers = new Set<string>();
  for (let i = 0; i < 200 && (workers.size < 2 || clients.length < 6); i++) {
    if (i >= 6) await delay(25);
    const stream = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    const { readable, writable } = await stream.opened;
    const reader = readable.getReader();
    const { value } = await reader.read();
    const worker = String(value).replace("worker ", "");
    workers.add(worker);
    clients.push({ stream, reader, writer: writable.getWriter(), worker });
  }
  assert.equal(workers.size, 2, "connections reached both workers");

  const perClient = 20;
  await Promise.all(clients.map(async ({ writer }, c) => {
    for (let n = 0; n < perClient; n++) await writer.write(`${c}:${n}`);
  }));
  await Promise.all(clients.map(async ({ reader }) => {
    const next = new Map<string, number>();
    for (let i = 0; i < clients.length * perClient; i++) {
      const { value } = await reader.read();
      const [from, n] = String(value).split(":");
      assert.equal(Number(n), next.get(from!) ?? 0);
      next.set(from!, Number(n) + 1);
    }
    assert.equal(next.size, clients.length);
  }));
  for (const { stream } of clients) stream.close();
  await Promise.all(clients.map(({ stream }) => stream.closed));
});
