/**
 * The browser recipe, `examples/browser/`, run as a user runs it: its server
 * script as a `deno` child process, its page in a headless browser. Firefox
 * has no `WebSocketStream`, so the page uses ours; Chromium has its own, so
 * the page keeps it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Browser, CHROMIUM, FIREFOX, openPage } from "./_browser.ts";
import { peerTest } from "./_peers.ts";
import { DenoProcess } from "./_subprocess.ts";

const CASES: [Browser, string][] = [
  [FIREFOX, "@streams/websocket"],
  [CHROMIUM, "the browser's WebSocketStream"],
];

for (const [browser, whose] of CASES) {
  peerTest(
    browser.peer,
    `example browser: in ${browser.peer.name} the page uses ${whose}, gets its echoes and closes cleanly`,
    async (path) => {
      await using server = new DenoProcess([
        "run",
        "--allow-net=127.0.0.1",
        "--allow-read",
        "--allow-run",
        "examples/browser/serve.ts",
        "0",
      ]);
      const [, port] = await server.waitForStdout(
        /^Open http:\/\/127\.0\.0\.1:(\d+)\/$/m,
      );
      await openPage(
        browser,
        path,
        `http://127.0.0.1:${port}/`,
        server.waitForStdout(/^page closed cleanly: .+$/m),
      );
      server.kill("SIGTERM");
      const { text } = await server.finished();
      assert.equal(
        text,
        [
          `Open http://127.0.0.1:${port}/`,
          `page: hello from ${whose}`,
          `page: echoes: hello from ${whose}, 3 bytes`,
          'page closed cleanly: 1000 "page done"',
          "",
        ].join("\n"),
      );
    },
  );
}
