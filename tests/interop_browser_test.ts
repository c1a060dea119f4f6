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

import { delay } from "./_assert.ts";
import {
  assertScenarios,
  bundleModule,
  startInteropServer,
} from "./_interop_server.ts";
import { findPeer, type Peer, peerTest } from "./_peers.ts";

/** How long the page may take; generous for a cold browser start in CI. */
const RESULTS_TIMEOUT_MS = 30_000;

interface Browser {
  peer: Peer;
  args(profile: string, url: string): string[];
}

const CHROMIUM: Browser = {
  peer: findPeer("chromium"),
  args: (profile, url) => [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-zygote",
    `--user-data-dir=${profile}`,
    url,
  ],
};

const FIREFOX: Browser = {
  peer: findPeer("firefox"),
  args: (
    profile,
    url,
  ) => ["--headless", "--no-remote", "--profile", profile, url],
};

/**
 * Waits until no process mentions `profile` on its command line: browser
 * helpers outlive the main process for a moment and may still write there.
 */
async function helpersGone(profile: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const { code } = await new Deno.Command("pgrep", {
      args: ["-f", profile],
      stdout: "null",
      stderr: "null",
    }).output();
    // pgrep exits with 1 when nothing matches.
    if (code === 1) return;
    await delay(50);
  }
  throw new Error(`browser processes still run for ${profile}`);
}

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
  const profile = await Deno.makeTempDir({
    prefix: `${name}_profile_`,
  });
  const url = `${server.httpUrl}/?impl=${impl}&name=${name}`;
  const child = new Deno.Command(path, {
    args: browser.args(profile, url),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `${name} posted no results within ${RESULTS_TIMEOUT_MS} ms`,
            ),
          ),
        RESULTS_TIMEOUT_MS,
      );
    });
    const exited = child.status.then((status) => {
      throw new Error(`${name} exited early with code ${status.code}`);
    });
    const outcome = await Promise.race([server.results, timeout, exited]);
    await assertScenarios(server, outcome, {
      name,
      impl,
      echoesReason: true,
    });
  } finally {
    clearTimeout(timer);
    // SIGTERM lets the browser take its renderer and helper processes down.
    try {
      child.kill("SIGTERM");
    } catch {
      // It already exited.
    }
    await child.status;
    await helpersGone(profile);
    await Deno.remove(profile, { recursive: true });
  }
}
