/**
 * Headless browsers for the tests that run a page: found through
 * `_peers.ts`, started on a fresh profile, and taken down with their helper
 * processes when the page is done. No automation protocol is used; the page
 * reports to the test's own server.
 *
 * @module
 */

import { delay } from "./_assert.ts";
import { findPeer, type Peer } from "./_peers.ts";

/** How long a page may take; generous for a cold browser start in CI. */
const PAGE_TIMEOUT_MS = 30_000;

/** A browser the tests can open a page in. */
export interface Browser {
  peer: Peer;
  args(profile: string, url: string): string[];
}

/** Chromium, which has a native `WebSocketStream`. */
export const CHROMIUM: Browser = {
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

/** Firefox, which has no `WebSocketStream`. */
export const FIREFOX: Browser = {
  peer: findPeer("firefox"),
  args: (
    profile,
    url,
  ) => ["--headless", "--no-remote", "--profile", profile, url],
};

/**
 * Opens `url` in `browser` (the executable at `path`) and waits for `done`,
 * which the page's reports settle. Fails if the browser exits first or the
 * page takes longer than {@linkcode PAGE_TIMEOUT_MS}; either way the browser
 * is closed and its profile removed before this settles.
 */
export async function openPage<T>(
  browser: Browser,
  path: string,
  url: string,
  done: Promise<T>,
): Promise<T> {
  const name = browser.peer.name;
  const profile = await Deno.makeTempDir({ prefix: `${name}_profile_` });
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
              `${name}: the page did not finish in ${PAGE_TIMEOUT_MS} ms`,
            ),
          ),
        PAGE_TIMEOUT_MS,
      );
    });
    const exited = child.status.then((status) => {
      throw new Error(`${name} exited early with code ${status.code}`);
    });
    return await Promise.race([done, timeout, exited]);
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
