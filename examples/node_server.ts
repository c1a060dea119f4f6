/**
 * Ordinary HTTP routes and WebSockets on one port, with `node:http`: the
 * `upgrade` event goes to `handleUpgrade`, whose streams pace their clients
 * through TCP. The story: the server starts, a client fetches a page, talks
 * over a WebSocket that shouts back what it hears, closes, and the server
 * stops.
 *
 * Run: `deno run --allow-net=127.0.0.1 examples/node_server.ts`
 *
 * @module
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketStream } from "../mod.ts";
import { handleUpgrade } from "../node.ts";

const server = createServer((request, response) => {
  if (request.url === "/") {
    response.writeHead(200, { "content-type": "text/plain" });
    response.end("Hello over plain HTTP\n");
    return;
  }
  response.writeHead(404).end();
});

server.on("upgrade", (request, socket, head) => {
  if (request.url !== "/shout") {
    socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  // A refused handshake (400, 403, 426) has been answered: nothing to do.
  const stream = handleUpgrade(request, socket, head, { idleTimeout: 60 });
  stream?.opened.then(async ({ readable, writable }) => {
    const writer = writable.getWriter();
    for await (const message of readable) {
      await writer.write(
        typeof message === "string" ? message.toUpperCase() : message,
      );
    }
  }).catch(() => {
    // The loop ends with an error whenever a client leaves uncleanly.
  });
});

await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address() as AddressInfo;

const page = await fetch(`http://127.0.0.1:${port}/`);
console.log(`GET / -> ${page.status} ${(await page.text()).trim()}`);

const client = new WebSocketStream(`ws://127.0.0.1:${port}/shout`, {
  transport: "socket",
});
const { readable, writable } = await client.opened;
const writer = writable.getWriter();
const reader = readable.getReader();
for (const words of ["hello", "one port for both"]) {
  await writer.write(words);
  console.log(`sent "${words}", heard "${(await reader.read()).value}"`);
}
client.close({ closeCode: 1000, reason: "done" });
const { closeCode, reason } = await client.closed;
console.log(`closed cleanly: ${closeCode} "${reason}"`);

await new Promise((resolve) => server.close(resolve));
