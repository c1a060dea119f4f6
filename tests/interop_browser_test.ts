/**
 * Interop with real browsers: a page served by the test runs the scenarios of
 * `peers/scenarios.mjs` against our server and POSTs what it saw back. The
 * browsers run headless; no automation protocol is used.
 *
 * - Chromium, with its native `WebSocketStream` and with ours;
 * - Firefox, which has no `WebSocketStream`: ours, the case this package is
 *   for in browsers.
 *
 * @module
 */

import {
  assertScenarios,
  bundleModule,
  startInteropServer,
} from "./_interop_server.ts";
import { peerTest } from "./_peers.ts";
import { type Browser, CHROMIUM, FIREFOX, openPage } from "./_browser.ts";

peerTest(
  CHROMIUM.peer,
  "Chromium's native WebSocketStream: echo (incl. 4 MiB), subprotocol and close codes both ways against our server",
  (path) => runPage(CHROMIUM, path, "native"),
);

peerTest(
  CHROMIUM.peer,
  "our WebSocketStream in Chromium (bundled mod.ts): the same scenarios pass",
  (path) => runPage(CHROMIUM, path, "ours"),
);

peerTest(
  FIREFOX.peer,
  "our WebSocketStream in Firefox, which has no WebSocketStream of its own: the same scenarios pass",
  (path) => runPage(FIREFOX, path, "ours"),
);

async function runPage(
  browser: Browser,
  path: string,
  impl: "native" | "ours",
): Promise<void> {
  const name = browser.peer.name;
  await using server = await startInteropServer(
    impl === "ours" ? await bundleModule() : "",
  );
  await openPage(
    browser,
    path,
    `${server.httpUrl}/?impl=${impl}&name=${name}`,
    server.results.then((outcome) =>
      assertScenarios(server, outcome, { name, impl, echoesReason: true })
    ),
  );
}
