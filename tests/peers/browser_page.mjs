// Runs in a browser against our server (its WebSocket URLs in the query), then POSTs what it saw to /results:
// with the browser's native WebSocketStream, or with ours (`?impl=ours`,
// bundled from mod.ts) to show it runs unchanged where there is none. Served
// by tests/interop_browser_test.ts.

import { runScenarios } from "./scenarios.mjs";

const query = new URLSearchParams(location.search);
const WebSocketStream = query.get("impl") === "ours"
  ? (await import("/mod.js")).WebSocketStream
  : globalThis.WebSocketStream;
const impl = WebSocketStream === globalThis.WebSocketStream ? "native" : "ours";

function post(body) {
  return fetch("/results", { method: "POST", body: JSON.stringify(body) });
}

const urls = { echo: query.get("echo"), serverClose: query.get("close") };
runScenarios(WebSocketStream, urls, query.get("name"))
  .then(
    (results) => post({ ok: true, impl, results }),
    (error) => post({ ok: false, error: `${error.name}: ${error.message}` }),
  );
