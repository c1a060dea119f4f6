// Runs in Node: our bundled node.ts (argv[2]) serves on node:http through
// handleUpgrade, and a client on Node's own WebSocket sends 64 MiB to a
// handler that does not read for its first second. Prints what both ends
// saw as one JSON line. Started by tests/interop_node_test.ts.

import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

const { handleUpgrade } = await import(pathToFileURL(process.argv[2]).href);
const MESSAGES = 1024;
const SIZE = 64 * 1024;

const result = {};
const server = createServer((_request, response) => response.end());
const served = new Promise((resolve, reject) => {
  server.on("upgrade", (request, socket, head) => {
    const stream = handleUpgrade(request, socket, head);
    stream.opened.then(async ({ readable, writable }) => {
      await sleep(1000);
      // What the server took from TCP while its handler was not reading.
      result.bytesReadWhileNotReading = socket.bytesRead;
      let received = 0;
      let inOrder = true;
      for await (const message of readable) {
        if (message[0] !== received % 256) inOrder = false;
        received++;
        if (received === MESSAGES) {
          const writer = writable.getWriter();
          await writer.write(`received ${received}, in order: ${inOrder}`);
          writer.releaseLock();
        }
      }
    }).catch(() => {});
    stream.closed.then(resolve, reject);
  });
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));

const client = new WebSocket(`ws://127.0.0.1:${server.address().port}/`);
const clientClosed = new Promise((resolve) => {
  client.onclose = ({ code, wasClean }) => resolve({ code, wasClean });
});
client.onopen = () => {
  for (let i = 0; i < MESSAGES; i++) {
    const message = new Uint8Array(SIZE);
    message[0] = i % 256;
    client.send(message);
  }
  result.bytesSent = MESSAGES * SIZE;
};
client.onmessage = ({ data }) => {
  result.answer = data;
  client.close(1000, "done");
};
result.client = await clientClosed;
result.server = await served.catch((error) => ({ error: String(error) }));
server.close();
console.log(JSON.stringify(result));
