/**
 * The benchmark's peer, run in its own process so it never shares a CPU turn
 * with the client it serves. Prints `{"port": N}` once listening and exits
 * when its stdin closes.
 *
 * Modes, for the server-side comparisons:
 * - `--mode=plain` serves every route with `Deno.upgradeWebSocket`;
 * - `--mode=ours` serves `/echo`, `/sink` and `/slow-sink` with
 *   `upgradeWebSocketStream` inside `Deno.serve`, each handler a read loop
 *   with a writer;
 * - `--mode=node` serves them with `handleUpgrade` on a `node:http` server,
 *   whose socket transport pauses a client that outruns its reader.
 *
 * Routes:
 * - `/echo`: echoes every message.
 * - `/sink?bytes=N`: counts received bytes and sends `done` once N
 *   arrived.
 * - `/source?bytes=N&size=S` (plain): sends N bytes in S-byte binary messages.
 * - `/slow-sink?bytes=N&rate=R` (ours, node): reads at most R bytes/s and
 *   sends `done` once N arrived.
 * - `/usage`: answers with the CPU time (user and system, in µs) and minor
 *   page faults the process has used so far, as JSON, touching nothing.
 * - `/stats`: collects garbage, then answers with its memory use, peak RSS,
 *   the close code the last `/slow-sink` connection ended with (0 while
 *   none has) and the CPU time, kernel CPU time and page faults the last
 *   sink took, as JSON.
 *
 * @module
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { upgradeWebSocketStream, type WebSocketStream } from "../../mod.ts";
import { handleUpgrade } from "../../node.ts";
import {
  collectGarbage,
  echoPlain,
  echoStream,
  type EchoTally,
} from "./_echo.ts";
import { cpuTimes, minorFaults, peakRss, sleep } from "./_process_stats.ts";

/** How the server upgrades its connections. */
export type ServerMode = "plain" | "ours" | "node";

const { values } = parseArgs({
  args: Deno.args,
  options: { mode: { type: "string", default: "plain" } },
});
const mode = values.mode as ServerMode;
if (!["plain", "ours", "node"].includes(mode)) {
  throw new Error(`Unknown server mode ${mode}`);
}
const tally: EchoTally = { open: 0, errors: 0 };

/**
 * What the last `/sink` or `/slow-sink` connection took from its upgrade
 * until the last byte arrived, the whole process's (so the runtime's own
 * threads count too): CPU time in ms, the kernel's share of it, and the
 * minor page faults. All 0 while none has.
 */
let sinkFigures = { sinkCpuMs: 0, sinkSystemMs: 0, sinkFaults: 0 };

/** Starts measuring a sink; call the result once its last byte arrived. */
function startSinkMeter(): () => void {
  const { user, system } = cpuTimes();
  const faults = minorFaults();
  return () => {
    const now = cpuTimes();
    sinkFigures = {
      sinkCpuMs: (now.user + now.system - user - system) / 1000,
      sinkSystemMs: (now.system - system) / 1000,
      sinkFaults: minorFaults() - faults,
    };
  };
}

function sink(request: Request, bytes: number): Response {
  const stopMeter = startSinkMeter();
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  let received = 0;
  socket.onmessage = (event) => {
    const data = event.data as ArrayBuffer | string;
    const before = received;
    received += typeof data === "string" ? data.length : data.byteLength;
    if (before < bytes && received >= bytes) stopMeter();
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

/** The close code the last `/slow-sink` connection ended with, or 0. */
let sinkCloseCode = 0;

/**
 * A handler that reads at most `rate` bytes/s (`Infinity` for as fast as it
 * can: then, like the plain sink, it only counts) and sends `done` once
 * `bytes` arrived, then reads on until the client closes.
 */
async function slowSink(
  stream: WebSocketStream,
  bytes: number,
  rate: number,
): Promise<void> {
  const stopMeter = startSinkMeter();
  stream.closed.then(
    ({ closeCode }) => sinkCloseCode = closeCode,
    ({ closeCode }) => sinkCloseCode = closeCode,
  );
  const { readable, writable } = await stream.opened;
  const start = performance.now();
  let received = 0;
  for await (const message of readable) {
    const before = received;
    received += typeof message === "string"
      ? message.length
      : message.byteLength;
    if (rate !== Infinity) {
      const ahead = received / rate * 1000 - (performance.now() - start);
      if (ahead > 0) await sleep(ahead);
    }
    if (before < bytes && received >= bytes) {
      stopMeter();
      const writer = writable.getWriter();
      await writer.write("done");
      writer.releaseLock();
    }
  }
}

/** Serves `/echo` and `/slow-sink` on a stream from either server path. */
function serveStream(url: URL, stream: WebSocketStream | undefined): void {
  if (stream === undefined) return;
  const number = (name: string) => Number(url.searchParams.get(name));
  if (url.pathname === "/slow-sink") {
    slowSink(stream, number("bytes"), number("rate")).catch(() => {});
  } else if (url.pathname === "/sink") {
    slowSink(stream, number("bytes"), Infinity).catch(() => {});
  } else echoStream(stream, tally);
}

async function stats(): Promise<Record<string, number>> {
  await collectGarbage();
  return {
    ...Deno.memoryUsage(),
    peakRss: peakRss(),
    open: tally.open,
    sinkCloseCode,
    ...sinkFigures,
  };
}

/** What `/usage` answers; see the module doc. */
const usage = () => ({ ...cpuTimes(), faults: minorFaults() });

const announce = (port: number) => console.log(JSON.stringify({ port }));

if (mode === "node") {
  const server = createServer((request, response) => {
    if (request.url === "/usage") {
      response.writeHead(200, { "Content-Type": "application/json" })
        .end(JSON.stringify(usage()));
      return;
    }
    if (request.url !== "/stats") {
      response.writeHead(404).end("Not found\n");
      return;
    }
    stats().then((figures) =>
      response.writeHead(200, { "Content-Type": "application/json" })
        .end(JSON.stringify(figures))
    );
  });
  server.on("upgrade", (request, socket, head) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    serveStream(url, handleUpgrade(request, socket, head));
  });
  server.listen(
    0,
    "127.0.0.1",
    () => announce((server.address() as AddressInfo).port),
  );
} else {
  Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => announce(port),
  }, async (request) => {
    const url = new URL(request.url);
    const number = (name: string) => Number(url.searchParams.get(name));
    switch (url.pathname) {
      case "/usage":
        return Response.json(usage());
      case "/stats":
        return Response.json(await stats());
      case "/source":
        return source(request, number("bytes"), number("size"));
    }
    if (mode === "plain") {
      switch (url.pathname) {
        case "/echo":
          return echoPlain(request, tally);
        case "/sink":
          return sink(request, number("bytes"));
      }
      return new Response("Not found\n", { status: 404 });
    }
    const { response, stream } = upgradeWebSocketStream(request);
    serveStream(url, stream);
    return response;
  });
}

// The parent closes stdin to stop the server, and so does its death.
// Open WebSockets would hold a graceful shutdown forever, so just exit.
for await (const _ of Deno.stdin.readable) { /* wait for end of input */ }
Deno.exit(0);
