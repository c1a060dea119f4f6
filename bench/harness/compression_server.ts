/**
 * The server process of `compression.ts`: a `node:http` server whose
 * `handleUpgrade` echoes every message, with the `compression` option each
 * connection's URL names (`/echo?compression=false` or a JSON object).
 * Prints `{"port": N}` once listening and exits when its stdin closes.
 *
 * `GET /stats` collects garbage, then answers with this process's RSS, JS
 * heap, CPU time (µs) and the bytes read and written on every WebSocket
 * connection so far, as JSON.
 *
 * @module
 */

import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { CompressionOptions } from "../../mod.ts";
import { handleUpgrade } from "../../node.ts";
import { collectGarbage } from "./_echo.ts";
import { cpuMicros } from "./_process_stats.ts";

const sockets = new Set<Socket>();
/** Wire bytes of the connections already closed. */
let closedBytes = 0;

function wireBytes(): number {
  let bytes = closedBytes;
  for (const socket of sockets) bytes += socket.bytesRead + socket.bytesWritten;
  return bytes;
}

function readCompression(url: URL): CompressionOptions | false {
  const value = url.searchParams.get("compression") ?? "false";
  return value === "false" ? false : JSON.parse(value);
}

const server = createServer(async (request, response) => {
  await collectGarbage();
  const { rss, heapUsed } = Deno.memoryUsage();
  response.setHeader("content-type", "application/json");
  response.end(JSON.stringify({
    rss,
    heapUsed,
    cpuMicros: cpuMicros(),
    wireBytes: wireBytes(),
    path: request.url,
  }));
});
server.on("upgrade", (request, socket: Socket, head) => {
  const url = new URL(request.url ?? "/", "http://localhost");
  const stream = handleUpgrade(request, socket, head, {
    compression: readCompression(url),
  });
  if (stream === undefined) return;
  sockets.add(socket);
  socket.on("close", () => {
    sockets.delete(socket);
    closedBytes += socket.bytesRead + socket.bytesWritten;
  });
  stream.opened.then(async ({ readable, writable }) => {
    const writer = writable.getWriter();
    for await (const message of readable) await writer.write(message);
  }).catch(() => {});
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ port }));
});
// The parent closes stdin to stop the server.
for await (const _ of Deno.stdin.readable) { /* until closed */ }
Deno.exit(0);
