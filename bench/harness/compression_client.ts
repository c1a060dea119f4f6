/**
 * The client process of `compression.ts`: our socket-transport client against
 * `compression_server.ts`, with the same `compression` option on both ends.
 * Prints one line of JSON with its figures.
 *
 * Workloads (`--workload`):
 * - `json`: `--count` chat messages of 200 B to 4 KiB (JSON with words,
 *   names and timestamps), echoed, written as fast as the connection takes
 *   them while the echoes are read; after `--warmup` messages that are not
 *   measured.
 * - `random`: the same with random bytes of the same sizes.
 * - `idle`: `--count` connections each send one 2 KiB chat message and read
 *   its echo, then stay open: the server's memory per connection.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type CompressionOptions, WebSocketStream } from "../../mod.ts";
import { cpuMicros } from "./_process_stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    url: { type: "string" },
    workload: { type: "string", default: "json" },
    compression: { type: "string", default: "false" },
    count: { type: "string", default: "2000" },
    warmup: { type: "string", default: "200" },
  },
});
const count = Number(values.count);
const warmup = Number(values.warmup);
const compression: CompressionOptions | false = JSON.parse(values.compression);

const WORDS = (
  "the a to and of in is it you that for on are with as be this have at or " +
  "not but what all were when we there can an your which their said if do " +
  "will each about how up out them then she many some so these would other " +
  "into has more her two like him see time could no make than first been " +
  "its who now people my made over did down only way find use may water " +
  "long little very after words called just where most know deploy build " +
  "review merge release ticket meeting lunch coffee tomorrow yesterday"
).split(" ");

/** A pseudo-random generator with a seed, so every run sends the same. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Message sizes from 200 B to 4 KiB, spread evenly on a log scale. */
function sizes(total: number, next: () => number): number[] {
  return Array.from(
    { length: total },
    () => Math.round(200 * (4096 / 200) ** next()),
  );
}

function chatMessage(i: number, size: number, next: () => number): string {
  const pick = <T>(items: readonly T[]) =>
    items[Math.floor(next() * items.length)]!;
  const message = {
    type: "message",
    id: `msg_${(1_000_000 + i).toString(36)}`,
    room: pick(["general", "random", "deploys", "support"]),
    user: { id: 1000 + Math.floor(next() * 50), name: `user${i % 50}` },
    sentAt: new Date(Date.UTC(2026, 0, 1) + i * 1377).toISOString(),
    text: "",
  };
  const words: string[] = [];
  let length = JSON.stringify(message).length;
  while (length < size) {
    const word = pick(WORDS);
    length += word.length + (words.length > 0 ? 1 : 0);
    words.push(word);
  }
  message.text = words.join(" ");
  return JSON.stringify(message);
}

function chatMessages(total: number): string[] {
  const next = random(7);
  return sizes(total, next).map((size, i) => chatMessage(i, size, next));
}

function randomMessages(total: number): Uint8Array[] {
  return sizes(total, random(11)).map((size) =>
    crypto.getRandomValues(new Uint8Array(size))
  );
}

function byteLength(message: string | Uint8Array): number {
  return typeof message === "string"
    ? new TextEncoder().encode(message).byteLength
    : message.byteLength;
}

interface ServerStats {
  rss: number;
  heapUsed: number;
  cpuMicros: number;
  wireBytes: number;
}

async function serverStats(): Promise<ServerStats> {
  const url = new URL("/stats", values.url!.replace(/^ws/, "http"));
  const response = await fetch(url);
  return await response.json();
}

async function connect(): Promise<WebSocketStream> {
  const url = new URL("/echo", values.url!);
  url.searchParams.set("compression", JSON.stringify(compression));
  const wss = new WebSocketStream(url.href, {
    transport: "socket",
    compression,
  });
  const { extensions } = await wss.opened;
  if ((extensions !== "") !== (compression !== false)) {
    throw new Error(`Unexpected agreement: "${extensions}"`);
  }
  return wss;
}

/** Writes `messages` as fast as they are taken while reading the echoes. */
async function echo(
  wss: WebSocketStream,
  messages: (string | Uint8Array)[],
): Promise<void> {
  const { readable, writable } = await wss.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  const sending = (async () => {
    for (const message of messages) await writer.write(message);
  })();
  for (let received = 0; received < messages.length; received++) {
    const { done } = await reader.read();
    if (done) throw new Error("The connection ended early");
  }
  await sending;
  writer.releaseLock();
  reader.releaseLock();
}

async function throughput(messages: (string | Uint8Array)[]) {
  const wss = await connect();
  await echo(wss, messages.slice(0, warmup));
  const measured = messages.slice(warmup);
  const serverBefore = await serverStats();
  const cpuBefore = cpuMicros();
  const started = performance.now();
  await echo(wss, measured);
  const seconds = (performance.now() - started) / 1000;
  const clientCpu = cpuMicros() - cpuBefore;
  const serverAfter = await serverStats();
  wss.close();
  await wss.closed.catch(() => {});
  return {
    messages: measured.length,
    messagesPerSecond: measured.length / seconds,
    // Both ways: each message is sent and echoed.
    payloadBytes: 2 * measured.reduce((sum, m) => sum + byteLength(m), 0),
    wireBytes: serverAfter.wireBytes - serverBefore.wireBytes,
    clientCpuMicrosPerMessage: clientCpu / measured.length,
    serverCpuMicrosPerMessage:
      (serverAfter.cpuMicros - serverBefore.cpuMicros) /
      measured.length,
  };
}

async function idle() {
  const message = chatMessage(0, 2048, random(3));
  const before = await serverStats();
  const connections: WebSocketStream[] = [];
  for (let i = 0; i < count; i++) {
    const wss = await connect();
    await echo(wss, [message]);
    connections.push(wss);
  }
  const after = await serverStats();
  for (const wss of connections) wss.close();
  await Promise.all(connections.map((wss) => wss.closed.catch(() => {})));
  return {
    connections: count,
    serverRssPerConnection: (after.rss - before.rss) / count,
    serverHeapPerConnection: (after.heapUsed - before.heapUsed) / count,
  };
}

const workloads = {
  json: () => throughput(chatMessages(warmup + count)),
  random: () => throughput(randomMessages(warmup + count)),
  idle,
};
const workload = workloads[values.workload as keyof typeof workloads];
if (workload === undefined) {
  throw new Error(`Cannot run: unknown workload ${values.workload}`);
}
console.log(JSON.stringify(await workload()));
