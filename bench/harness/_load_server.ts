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
import { upgradeWebSocketStream } from "../../mod.ts";
import {
  collectGarbage,
  echoOurs,
  echoPlain,
  type EchoTally,
} from "./_echo.ts";
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
const tally: EchoTally = { open: 0, errors: 0 };
const soakTally: TrafficTally = { sent: 0, received: 0, errors: 0 };

function soak(request: Request): Response {
  const { response, stream } = upgradeWebSocketStream(request, {
    receiveLimit,
  });
  stream?.opened.then(async (info) => {
    tally.open++;
    await soakTraffic(stream, info, soakTally);
    tally.open--;
  }).catch(() => soakTally.errors++);
  return response;
}

async function stats(): Promise<Response> {
  await collectGarbage();
  return Response.json({ ...processFigures(), ...tally, soak: soakTally });
}

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(JSON.stringify({ port })),
}, (request) => {
  switch (new URL(request.url).pathname) {
    case "/echo":
      return ours ? echoOurs(request, tally) : echoPlain(request, tally);
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
