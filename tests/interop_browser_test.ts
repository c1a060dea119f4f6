/**
 * Interop with real browsers: a page served by the test runs the scenarios of
 * `peers/scenarios.mjs` against our server, on each server path, and POSTs
 * what it saw back. The browsers run headless; no automation protocol is used.
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
import { peerPath } from "./_peers.ts";
import { type ServerPath, serverTest } from "./_server_paths.ts";
import { type Browser, CHROMIUM, FIREFOX, openPage } from "./_browser.ts";

serverTest(
  "INT-01 Chromium's native WebSocketStream: echo (incl. 4 MiB), subprotocol and close codes both ways against our server",
  (path) => runPage(CHROMIUM, path, "native"),
  [CHROMIUM.peer],
);

serverTest(
  "INT-01 our WebSocketStream in Chromium (bundled mod.ts): the same scenarios pass",
  (path) => runPage(CHROMIUM, path, "ours"),
  [CHROMIUM.peer],
);

serverTest(
  "INT-01 our WebSocketStream in Firefox, which has no WebSocketStream of its own: the same scenarios pass",
  (path) => runPage(FIREFOX, path, "ours"),
  [FIREFOX.peer],
);

async function runPage(
  browser: Browser,
  path: ServerPath,
  impl: "native" | "ours",
): Promise<void> {
  const name = browser.peer.name;
  await using server = await startInteropServer(
    path,
    impl === "ours" ? await bundleModule() : "",
  );
  const query = new URLSearchParams({
    impl,
    name,
    echo: server.urls.echo,
    close: server.urls.serverClose,
  });
  await openPage(
    browser,
    peerPath(browser.peer),
    `${server.httpUrl}/?${query}`,
    server.results.then((outcome) =>
      assertScenarios(server, outcome, { name, impl, echoesReason: true })
    ),
  );
}
