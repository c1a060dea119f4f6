/**
 * The benchmark's peer, run in its own process so it never shares a CPU turn
 * with the client it serves. Prints `{"port": N}` once listening and exits
 * when its stdin closes.
 *
 * `--mode=plain` serves every route with `Deno.upgradeWebSocket`; `--mode=ours`
 * serves `/echo` with `upgradeWebSocketStream`, for the idle-connection memory
 * comparison.
 *
 * Routes:
 * - `/echo`: echoes every message.
 * - `/sink?bytes=N`: counts received bytes and sends `done` once N arrived.
 * - `/source?bytes=N&size=S`: sends N bytes in S-byte binary messages.
 * - `/stats`: collects garbage, then answers with its memory use as JSON.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  collectGarbage,
  echoOurs,
  echoPlain,
  type EchoTally,
} from "./_echo.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { mode: { type: "string", default: "plain" } },
});
const ours = values.mode === "ours";
const tally: EchoTally = { open: 0, errors: 0 };

function sink(request: Request, bytes: number): Response {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  let received = 0;
  socket.onmessage = (event) => {
    const data = event.data as ArrayBuffer | string;
    received += typeof data === "string" ? data.length : data.byteLength;
    if (received >= bytes) socket.send("done");
  };
  return response;
}

function source(request: Request, bytes: number, size: number): Response {
  const { socket, response } = Deno.upgradeWebSocket(request);
  // One buffer for every message: Deno sends it without copying, so the
  // server's memory stays flat however slowly the client reads.
  const chunk = new Uint8Array(size);
  socket.onopen = () => {
    for (let sent = 0; sent < bytes; sent += size) {
      if (socket.readyState !== WebSocket.OPEN) return;
      socket.send(chunk);
    }
  };
  socket.onerror = () => {};
  return response;
}

async function stats(): Promise<Response> {
  await collectGarbage();
  return Response.json({ ...Deno.memoryUsage(), open: tally.open });
}

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(JSON.stringify({ port })),
}, (request) => {
  const url = new URL(request.url);
  const number = (name: string) => Number(url.searchParams.get(name));
  switch (url.pathname) {
    case "/echo":
      return ours ? echoOurs(request, tally) : echoPlain(request, tally);
    case "/sink":
      return sink(request, number("bytes"));
    case "/source":
      return source(request, number("bytes"), number("size"));
    case "/stats":
      return stats();
    default:
      return new Response("Not found\n", { status: 404 });
  }
});

// The parent closes stdin to stop the server, and so does its death.
// Open WebSockets would hold a graceful shutdown forever, so just exit.
for await (const _ of Deno.stdin.readable) { /* wait for end of input */ }
Deno.exit(0);
