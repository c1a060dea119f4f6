// Runs in Chromium against our server, then POSTs what it saw to /results:
// with Chromium's native WebSocketStream, or with ours (`?impl=ours`, bundled
// from mod.ts) to show it runs unchanged in a browser. Served by
// tests/interop_chromium_test.ts.

const WebSocketStream = new URLSearchParams(location.search).get("impl") ===
    "ours"
  ? (await import("/mod.js")).WebSocketStream
  : globalThis.WebSocketStream;

const base = `ws://${location.host}/ws`;
const LARGE = 4 * 1024 * 1024;

/** Chromium gives ArrayBuffer or Uint8Array depending on its version. */
function bytes(value) {
  return value instanceof ArrayBuffer ? new Uint8Array(value) : value;
}

async function closedResult(wss) {
  try {
    const { closeCode, reason } = await wss.closed;
    return { ok: true, closeCode, reason };
  } catch (error) {
    return { ok: false, name: error.name, closeCode: error.closeCode };
  }
}

async function run() {
  const results = {
    impl: WebSocketStream === globalThis.WebSocketStream ? "native" : "ours",
  };
  const echo = new WebSocketStream(`${base}/echo`);
  const { readable, writable } = await echo.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  await writer.write("chromium ✓");
  results.text = (await reader.read()).value;
  await writer.write(new Uint8Array([1, 2, 3, 255]));
  results.binary = Array.from(bytes((await reader.read()).value));
  const large = new Uint8Array(LARGE);
  for (let i = 0; i < large.length; i++) large[i] = i % 251;
  await writer.write(large);
  const back = bytes((await reader.read()).value);
  results.large = back.length === LARGE && back.every((b, i) => b === i % 251);
  echo.close();
  results.emptyClose = await closedResult(echo);

  const withProtocol = new WebSocketStream(`${base}/echo`, {
    protocols: ["x", "chat"],
  });
  results.protocol = (await withProtocol.opened).protocol;
  withProtocol.close();
  await withProtocol.closed;

  const clientClose = new WebSocketStream(`${base}/echo`);
  await clientClose.opened;
  clientClose.close({ closeCode: 4001, reason: "chromium bye" });
  results.clientClose = await closedResult(clientClose);

  const serverClose = new WebSocketStream(`${base}/server-close`);
  await serverClose.opened;
  results.serverClose = await closedResult(serverClose);
  return results;
}

function post(body) {
  return fetch("/results", { method: "POST", body: JSON.stringify(body) });
}

run().then(
  (results) => post({ ok: true, results }),
  (error) => post({ ok: false, error: `${error.name}: ${error.message}` }),
);
