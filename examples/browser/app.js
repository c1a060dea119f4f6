// Runs in the page: the browser's own WebSocketStream where there is one
// (Chrome), the bundled @streams/websocket where there is none (Firefox,
// Safari). Both have the same API, so the rest of the code does not care.
const { WebSocketStream } = "WebSocketStream" in globalThis
  ? globalThis
  : await import("/websocket_stream.js");
const whose = WebSocketStream === globalThis.WebSocketStream
  ? "the browser's WebSocketStream"
  : "@streams/websocket";

const log = (line) => document.getElementById("log").append(`${line}\n`);

const wss = new WebSocketStream(`ws://${location.host}/ws`);
const { readable, writable } = await wss.opened;
log(`connected with ${whose}`);

const writer = writable.getWriter();
const reader = readable.getReader();
const sent = [`hello from ${whose}`, new Uint8Array([1, 2, 3])];
let echoed = 0;
for (const message of sent) {
  await writer.write(message);
  const { value } = await reader.read();
  log(`echo: ${typeof value === "string" ? value : `${value.length} bytes`}`);
  echoed++;
}
await writer.write(`${echoed} of ${sent.length} echoes came back`);
await reader.read();

wss.close({ closeCode: 1000, reason: "page done" });
const { closeCode, reason } = await wss.closed;
log(`closed cleanly: ${closeCode} "${reason}"`);
