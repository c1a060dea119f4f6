/// <reference lib="deno.unstable" />
/**
 * Runs Deno's built-in `WebSocketStream` (`--unstable-net`) against the server
 * at `Deno.args[0]`, one connection per scenario in a fixed order, and prints
 * what it saw as JSON on stdout. Driven by tests/interop_deno_native_test.ts.
 *
 * @module
 */

const base = Deno.args[0];
if (base === undefined) throw new TypeError("Expected the server URL");

/** What `closed` gave: its value, or the error's name, code, reason and message. */
async function closedResult(wss: WebSocketStream) {
  try {
    return { ok: true, ...(await wss.closed) };
  } catch (error) {
    const { name, closeCode, reason, message } = error as WebSocketError;
    return { ok: false, name, closeCode, reason, message };
  }
}

// 1: echo of text and binary.
const echo = new WebSocketStream(base);
const echoOpen = await echo.opened;
const writer = echoOpen.writable.getWriter();
const reader = echoOpen.readable.getReader();
await writer.write("native ✓");
await writer.write(new Uint8Array([1, 2, 3, 255]));
const echoed = [];
for (let i = 0; i < 2; i++) {
  const { value } = await reader.read();
  echoed.push(
    typeof value === "string" ? value : { binary: Array.from(value!) },
  );
}
echo.close();
await echo.closed;

// 2: subprotocol.
const withProtocol = new WebSocketStream(base, { protocols: ["x", "chat"] });
const { protocol } = await withProtocol.opened;
withProtocol.close();
await withProtocol.closed;

// 3: the client closes with a code and reason.
const clientClose = new WebSocketStream(base);
await clientClose.opened;
// Deno's typings still call the field `code`; the runtime reads `closeCode`.
clientClose.close({ closeCode: 4001, reason: "native bye" } as never);
const clientClosed = await closedResult(clientClose);

// 4: the server closes with a code and reason.
const serverClose = new WebSocketStream(base);
await serverClose.opened;
const serverClosed = await closedResult(serverClose);

console.log(JSON.stringify({ echoed, protocol, clientClosed, serverClosed }));
