/**
 * permessage-deflate on and off: a JSON chat workload (messages of 200 B to
 * 4 KiB made of words, names and timestamps) and a random-bytes workload of
 * the same sizes, echoed between our socket client and a `handleUpgrade`
 * server in this process, so both roles compress. Reports bytes on the
 * wire, round trips per second, CPU per message (both ends together), and
 * the memory each connection's zlib state costs per compression setting.
 *
 * Run: `deno run -A --v8-flags=--expose-gc bench/harness/compression.ts [messages]`
 *
 * @module
 */

import { createServer } from "node:http";
import type { Socket } from "node:net";
import process from "node:process";
import { type CompressionOptions, WebSocketStream } from "../../mod.ts";
import { handleUpgrade } from "../../node.ts";
import { DeflateCodec } from "../../src/socket/permessage_deflate_codec.ts";
import type { DeflateParameters } from "../../src/socket/permessage_deflate_negotiation.ts";

const MESSAGES = Number(Deno.args[0] ?? 2000);

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
function sizes(count: number, next: () => number): number[] {
  return Array.from(
    { length: count },
    () => Math.round(200 * (4096 / 200) ** next()),
  );
}

function chatMessages(count: number): string[] {
  const next = random(7);
  const pick = <T>(items: readonly T[]) =>
    items[Math.floor(next() * items.length)]!;
  return sizes(count, next).map((size, i) => {
    const message = {
      type: "message",
      id: `msg_${(1_000_000 + i).toString(36)}`,
      room: pick(["general", "random", "deploys", "support"]),
      user: { id: 1000 + Math.floor(next() * 50), name: `user${i % 50}` },
      sentAt: new Date(Date.UTC(2026, 0, 1) + i * 1377).toISOString(),
      text: "",
    };
    const words: string[] = [];
    while (JSON.stringify(message).length + words.join(" ").length < size) {
      words.push(pick(WORDS));
    }
    message.text = words.join(" ");
    return JSON.stringify(message);
  });
}

function randomMessages(count: number): Uint8Array[] {
  return sizes(count, random(11)).map((size) =>
    crypto.getRandomValues(new Uint8Array(size))
  );
}

function payloadBytes(messages: (string | Uint8Array)[]): number {
  const encoder = new TextEncoder();
  return messages.reduce(
    (sum, message) =>
      sum +
      (typeof message === "string"
        ? encoder.encode(message).byteLength
        : message.byteLength),
    0,
  );
}

interface Result {
  wireBytes: number;
  payloadBytes: number;
  perSecond: number;
  cpuMicrosPerMessage: number;
}

/**
 * Echoes `messages` through one connection, written as fast as the
 * connection takes them while the echoes are read.
 */
async function run(
  messages: (string | Uint8Array)[],
  compression: CompressionOptions | false,
): Promise<Result> {
  const sockets: Socket[] = [];
  const server = createServer();
  server.on("connection", (socket: Socket) => sockets.push(socket));
  server.on("upgrade", (request, socket, head) => {
    const stream = handleUpgrade(request, socket, head, { compression });
    stream?.opened.then(async ({ readable, writable }) => {
      const writer = writable.getWriter();
      for await (const message of readable) await writer.write(message);
    }).catch(() => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const wss = new WebSocketStream(`ws://127.0.0.1:${port}`, {
    transport: "socket",
    compression,
  });
  const { readable, writable, extensions } = await wss.opened;
  if ((extensions !== "") !== (compression !== false)) {
    throw new Error(`unexpected agreement: "${extensions}"`);
  }
  const writer = writable.getWriter();
  const reader = readable.getReader();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const sending = (async () => {
    for (const message of messages) await writer.write(message);
  })();
  let received = 0;
  while (received < messages.length) {
    const { done } = await reader.read();
    if (done) throw new Error("the connection ended early");
    received++;
  }
  await sending;
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const socket = sockets[0]!;
  const result = {
    wireBytes: socket.bytesRead + socket.bytesWritten,
    payloadBytes: 2 * payloadBytes(messages),
    perSecond: messages.length / seconds,
    cpuMicrosPerMessage: (used.user + used.system) / messages.length,
  };
  wss.close();
  await wss.closed.catch(() => {});
  await new Promise((resolve) => server.close(resolve));
  return result;
}

/** The RSS one codec holds after a message each way, over `count` codecs. */
async function memoryPerCodec(
  parameters: DeflateParameters,
  count: number,
): Promise<number> {
  const [message] = chatMessages(1);
  const bytes = new TextEncoder().encode(message!.repeat(4));
  const codecs: DeflateCodec[] = [];
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = Deno.memoryUsage().rss;
  for (let i = 0; i < count; i++) {
    const codec = new DeflateCodec(parameters, "server");
    const payload = (await codec.compress(bytes))!;
    await codec.inflate(payload, true, Infinity);
    codecs.push(codec);
  }
  gc?.();
  const perCodec = (Deno.memoryUsage().rss - before) / count;
  for (const codec of codecs) codec.close();
  return perCodec;
}

const workloads = {
  "JSON chat": chatMessages(MESSAGES),
  "random bytes": randomMessages(MESSAGES),
};
console.log(
  `${MESSAGES} messages per run, echoed; wire = bytes both ways on the server's socket. Timings on a shared machine are noisy.\n`,
);
console.log(
  "| workload | compression | payload | on the wire | ratio | round trips/s | CPU µs/msg |",
);
console.log("|---|---|---:|---:|---:|---:|---:|");
for (const [name, messages] of Object.entries(workloads)) {
  const off = await run(messages, false);
  const runs = [
    ["off", off],
    ["on", await run(messages, {})],
    ["on, threshold 0", await run(messages, { threshold: 0 })],
  ] as const;
  for (const [label, result] of runs) {
    console.log(
      `| ${name} | ${label} | ${result.payloadBytes} | ${result.wireBytes} | ${
        (result.payloadBytes / result.wireBytes).toFixed(2)
      }x | ${result.perSecond.toFixed(0)} (${
        (result.perSecond / off.perSecond).toFixed(2)
      }x) | ${result.cpuMicrosPerMessage.toFixed(0)} |`,
    );
  }
}

const takeover: DeflateParameters = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};
console.log("\n| zlib state per connection (one codec, server side) | RSS |");
console.log("|---|---:|");
for (
  const [label, parameters] of [
    ["context takeover, 15-bit windows (the default)", takeover],
    ["context takeover, 10-bit windows", {
      ...takeover,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 10,
    }],
    ["no context takeover either way", {
      ...takeover,
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    }],
  ] as const
) {
  const bytes = await memoryPerCodec(parameters, 500);
  console.log(`| ${label} | ${(bytes / 1024).toFixed(0)} KiB |`);
}
