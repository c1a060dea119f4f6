/**
 * The server process of `deno task load` and `deno task soak`. Prints
 * `{"port": N}` once listening and exits when its stdin closes.
 *
 * `--mode=ours` upgrades with `upgradeWebSocketStream`, `--mode=plain` with
 * `Deno.upgradeWebSocket`, so the two can be compared in one run.
 *
 * Routes:
 * - `/echo`: echoes every message.
 * - `/soak`: the soak traffic (see `_soak_traffic.ts`), ours only.
 * - `/stats`: collects garbage, then answers with memory, peak RSS, open
 *   file descriptors and open connections as JSON.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { upgradeWebSocketStream } from "../mod.ts";
import { processFigures } from "./_load_stats.ts";
import { soakTraffic, type TrafficTally } from "./_soak_traffic.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mode: { type: "string", default: "ours" },
    "receive-limit": { type: "string", default: `${16 * 1024 * 1024}` },
  },
});
const ours = values.mode === "ours";
const receiveLimit = Number(values["receive-limit"]);
const gc = (globalThis as { gc?: () => void }).gc;
let open = 0;
let errors = 0;
const soakTally: TrafficTally = { sent: 0, received: 0, errors: 0 };

function echoPlain(request: Request): Response {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => open++;
  socket.onclose = (event) => {
    open--;
    if (!event.wasClean) errors++;
  };
  socket.onmessage = (event) => socket.send(event.data);
  return response;
}

function echoOurs(request: Request): Response {
  const { response, stream } = upgradeWebSocketStream(request);
  stream?.opened.then(async ({ readable, writable }) => {
    open++;
    // The pipe rejects even after a clean close (the writable is errored
    // then, as the standard says); only `closed` tells how it ended.
    await readable.pipeTo(writable).catch(() => {});
    await stream.closed.catch(() => errors++);
    open--;
  }).catch(() => errors++);
  return response;
}

function soak(request: Request): Response {
  const { response, stream } = upgradeWebSocketStream(request, {
    receiveLimit,
  });
  stream?.opened.then(async (info) => {
    open++;
    await soakTraffic(stream, info, soakTally);
    open--;
  }).catch(() => soakTally.errors++);
  return response;
}

async function stats(): Promise<Response> {
  // Two collections with a turn between them let finalizers run.
  gc?.();
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc?.();
  return Response.json({ ...processFigures(), open, errors, soak: soakTally });
}

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(JSON.stringify({ port })),
}, (request) => {
  switch (new URL(request.url).pathname) {
    case "/echo":
      return ours ? echoOurs(request) : echoPlain(request);
    case "/soak":
      return soak(request);
    case "/stats":
      return stats();
    default:
      return new Response("Not found\n", { status: 404 });
  }
});

// Open WebSockets would hold a graceful shutdown for ever, so just exit.
for await (const _ of Deno.stdin.readable) { /* wait for end of input */ }
Deno.exit(0);
