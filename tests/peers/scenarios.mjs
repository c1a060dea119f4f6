// The interop scenarios, run by a peer's WebSocketStream against the server
// of tests/_interop_server.ts: in a browser (browser_page.mjs) or in Node
// (node_client.mjs). Plain JavaScript, so that every runtime can load it.

const LARGE = 4 * 1024 * 1024;

/** Runtimes give ArrayBuffer or Uint8Array depending on their version. */
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

/**
 * Runs every scenario with `WebSocketStream` against the server's `urls`
 * (`echo`, `serverClose`); `name` tags the texts the peer sends.
 */
// deno-lint-ignore explicit-module-boundary-types -- plain JavaScript, for browsers and Node
export async function runScenarios(WebSocketStream, urls, name) {
  const results = {};
  const echo = new WebSocketStream(urls.echo);
  const { readable, writable } = await echo.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  await writer.write(`${name} ✓`);
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

  const withProtocol = new WebSocketStream(urls.echo, {
    protocols: ["x", "chat"],
  });
  results.protocol = (await withProtocol.opened).protocol;
  withProtocol.close();
  await withProtocol.closed;

  const clientClose = new WebSocketStream(urls.echo);
  await clientClose.opened;
  clientClose.close({ closeCode: 4001, reason: `${name} bye` });
  results.clientClose = await closedResult(clientClose);

  const serverClose = new WebSocketStream(urls.serverClose);
  await serverClose.opened;
  results.serverClose = await closedResult(serverClose);
  return results;
}
