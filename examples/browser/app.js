// Runs in the page: the browser's own WebSocketStream where there is one
// (Chrome), the bundled @streams/websocket where there is none (Firefox,
// Safari). Both have the same API; only binary messages differ, an
// ArrayBuffer in Chrome and a Uint8Array in ours: new Uint8Array(...) reads
// both.
const { WebSocketStream } = "WebSocketStream" in globalThis
  ? globalThis
  : await import("/websocket_stream.js");
const whose = WebSocketStream === globalThis.WebSocketStream
  ? "the browser's WebSocketStream"
  : "@streams/websocket";

const log = (line) => document.getElementById("log").append(`${line}\n`);

// wss: when the page came over https:, as browsers refuse ws: there.
const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const wss = new WebSocketStream(`${scheme}//${location.host}/ws`);
const { readable, writable } = await wss.opened;
log(`connected with ${whose}`);

const writer = writable.getWriter();
const reader = readable.getReader();
const echoes = [];
for (const message of [`hello from ${whose}`, new Uint8Array([1, 2, 3])]) {
  await writer.write(message);
  const { value } = await reader.read();
  echoes.push(
    typeof value === "string" ? value : `${new Uint8Array(value).length} bytes`,
  );
  log(`echo: ${echoes.at(-1)}`);
}
// The server prints the texts it gets: this one says what came back.
await writer.write(`echoes: ${echoes.join(", ")}`);
await reader.read();

wss.close({ closeCode: 1000, reason: "page done" });
const { closeCode, reason } = await wss.closed;
log(`closed cleanly: ${closeCode} "${reason}"`);
