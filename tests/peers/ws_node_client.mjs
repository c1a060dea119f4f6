// Runs in Node: the npm `ws` client, installed under argv[2], through the
// interop scenarios against the echo and server-close URLs (argv[3],
// argv[4]), printing what it saw as one JSON line in the shape of
// scenarios.mjs. Started by tests/interop_ws_node_test.ts.

import { createRequire } from "node:module";
import { join } from "node:path";

const LARGE = 4 * 1024 * 1024;
const [dir, echoUrl, serverCloseUrl] = process.argv.slice(2);
const WebSocket = createRequire(join(dir, "package.json"))("ws");

// A server that never answers must fail the run, not hang it.
setTimeout(() => {
  console.log(JSON.stringify({ ok: false, error: "timed out" }));
  process.exit(1);
}, 20_000).unref();

function open(url, protocols) {
  const socket = new WebSocket(url, protocols);
  return new Promise((resolve, reject) => {
    socket.once("open", () => resolve(socket));
    socket.once("error", reject);
  });
}

function closed(socket) {
  return new Promise((resolve) =>
    socket.once(
      "close",
      (code, reason) =>
        resolve({ ok: code !== 1006, closeCode: code, reason: `${reason}` }),
    )
  );
}

function echoOf(socket, data, binary) {
  const received = new Promise((resolve) =>
    socket.once(
      "message",
      (message, isBinary) =>
        resolve(isBinary ? new Uint8Array(message) : `${message}`),
    )
  );
  socket.send(data, { binary });
  return received;
}

async function run() {
  const results = {};
  const echo = await open(echoUrl);
  results.text = await echoOf(echo, "ws ✓", false);
  results.binary = Array.from(
    await echoOf(echo, new Uint8Array([1, 2, 3, 255]), true),
  );
  const large = new Uint8Array(LARGE).map((_, i) => i % 251);
  const back = await echoOf(echo, large, true);
  results.large = back.length === LARGE && back.every((b, i) => b === i % 251);
  const echoClosed = closed(echo);
  echo.close();
  results.emptyClose = await echoClosed;

  const withProtocol = await open(echoUrl, ["x", "chat"]);
  results.protocol = withProtocol.protocol;
  const protocolClosed = closed(withProtocol);
  withProtocol.close();
  await protocolClosed;

  const clientClose = await open(echoUrl);
  const clientClosed = closed(clientClose);
  clientClose.close(4001, "ws bye");
  results.clientClose = await clientClosed;

  // The server closes right after opening: listen before `open` resolves.
  const serverClose = new WebSocket(serverCloseUrl);
  results.serverClose = await closed(serverClose);
  return results;
}

try {
  console.log(JSON.stringify({ ok: true, impl: "ws", results: await run() }));
} catch (error) {
  console.log(
    JSON.stringify({ ok: false, error: `${error.name}: ${error.message}` }),
  );
}
