/**
 * Browsers offer permessage-deflate on every WebSocket they open: Chromium
 * and Firefox (headless) against a `node:http` server whose `handleUpgrade`
 * accepts it. The page sends JSON messages long enough to be compressed,
 * reads them back, and posts what its `WebSocket` agreed to.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { Socket } from "node:net";
import { handleUpgrade } from "../node.ts";
import { type Browser, CHROMIUM, FIREFOX, openPage } from "./_browser.ts";
import { echo } from "./_stream_server.ts";
import { peerTest } from "./_peers.ts";

const PAGE = `<!doctype html><script type="module">
const messages = Array.from({ length: 10 }, (_, i) =>
  JSON.stringify({ i, text: "the quick brown fox jumps over the lazy dog ".repeat(40 + i) }));
const socket = new WebSocket(\`ws://\${location.host}/ws\`);
const echoed = [];
socket.onopen = () => { for (const message of messages) socket.send(message); };
socket.onmessage = (event) => {
  echoed.push(event.data);
  if (echoed.length < messages.length) return;
  fetch("/results", {
    method: "POST",
    body: JSON.stringify({
      extensions: socket.extensions,
      same: echoed.every((message, i) => message === messages[i]),
    }),
  }).then(() => socket.close(1000));
};
socket.onerror = () =>
  fetch("/results", { method: "POST", body: JSON.stringify({ error: true }) });
</script>`;

/** The bytes the page's messages take, uncompressed, one way. */
const PAYLOAD_BYTES = Array.from(
  { length: 10 },
  (_, i) =>
    JSON.stringify({
      i,
      text: "the quick brown fox jumps over the lazy dog ".repeat(40 + i),
    }).length,
).reduce((sum, length) => sum + length, 0);

async function runPage(browser: Browser, path: string): Promise<void> {
  const results = Promise.withResolvers<unknown>();
  const sockets: Socket[] = [];
  const server = createServer((request, response) => {
    if (request.url === "/results") {
      let body = "";
      request.on("data", (chunk: Uint8Array) => body += chunk);
      request.on("end", () => {
        results.resolve(JSON.parse(body));
        response.end();
      });
      return;
    }
    response.setHeader("content-type", "text/html; charset=utf-8");
    response.end(PAGE);
  });
  server.on("upgrade", (request, socket: Socket, head) => {
    sockets.push(socket);
    const stream = handleUpgrade(request, socket, head, { compression: true });
    if (stream !== undefined) echo(stream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  try {
    const outcome = await openPage(
      browser,
      path,
      `http://127.0.0.1:${port}/`,
      results.promise,
    );
    assert.deepEqual(outcome, {
      extensions: "permessage-deflate",
      same: true,
    });
    const [socket] = sockets;
    assert.ok(socket !== undefined);
    // Both ways compressed: far fewer bytes than the messages took.
    assert.ok(
      socket.bytesRead < PAYLOAD_BYTES / 3,
      `${socket.bytesRead} bytes read for ${PAYLOAD_BYTES}`,
    );
    assert.ok(
      socket.bytesWritten < PAYLOAD_BYTES / 3,
      `${socket.bytesWritten} bytes written for ${PAYLOAD_BYTES}`,
    );
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

peerTest(
  CHROMIUM.peer,
  "CMP-01 CMP-02 Chromium's WebSocket agrees on permessage-deflate with handleUpgrade and both ways compress",
  (path) => runPage(CHROMIUM, path),
);

peerTest(
  FIREFOX.peer,
  "CMP-01 CMP-02 Firefox's WebSocket agrees on permessage-deflate with handleUpgrade and both ways compress",
  (path) => runPage(FIREFOX, path),
);
