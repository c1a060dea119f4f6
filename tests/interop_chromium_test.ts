/**
 * Interop with Chromium's native `WebSocketStream`: a page served by the test
 * runs the scenarios against our server and POSTs what it saw back. Chromium
 * runs headless; no automation protocol is used.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { WebSocketClosedInfo, WebSocketStream } from "../mod.ts";
import { delay } from "./_assert.ts";
import { serve } from "./_wpt_server.ts";
import { echo, streamHandler } from "./_stream_server.ts";

const CHROMIUM = "/usr/bin/chromium";
const PAGE = new URL("./peers/chromium_page.js", import.meta.url);
/** How long the page may take; generous for a cold browser start in CI. */
const RESULTS_TIMEOUT_MS = 30_000;

async function requireChromium(): Promise<void> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium is required for this test but ${CHROMIUM} is missing: install it with "apt-get install -y chromium" (.ci/run does)`,
    );
  }
}

/**
 * Waits until no process mentions `profile` on its command line: Chromium's
 * helpers outlive the browser process for a moment and may still write there.
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
  throw new Error(`Chromium helper processes still run for ${profile}`);
}

/** Our module as one script a browser can import. */
async function bundleModule(): Promise<string> {
  const { stdout, stderr, success } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", new URL("../mod.ts", import.meta.url).pathname],
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  assert.ok(success, decoder.decode(stderr));
  return decoder.decode(stdout);
}

Deno.test("Chromium's native WebSocketStream: echo (incl. 4 MiB), subprotocol and close codes both ways against our server", async () => {
  await runPage("native");
});

Deno.test("our WebSocketStream in a browser (Chromium, bundled mod.ts): the same scenarios pass", async () => {
  await runPage("ours");
});

async function runPage(impl: "native" | "ours"): Promise<void> {
  await requireChromium();
  const script = await Deno.readTextFile(PAGE);
  const module = impl === "ours" ? await bundleModule() : "";
  const results = Promise.withResolvers<unknown>();
  const serverClosed: Promise<WebSocketClosedInfo>[] = [];
  const streams = streamHandler({ protocol: ["chat"] });
  const watch = (stream: WebSocketStream) => {
    serverClosed.push(stream.closed);
    return stream;
  };
  await using server = serve(async (request) => {
    const { pathname } = new URL(request.url);
    switch (pathname) {
      case "/":
        return new Response(
          '<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>',
          { headers: { "content-type": "text/html; charset=utf-8" } },
        );
      case "/page.js":
        return new Response(script, {
          headers: { "content-type": "text/javascript; charset=utf-8" },
        });
      case "/mod.js":
        return new Response(module, {
          headers: { "content-type": "text/javascript; charset=utf-8" },
        });
      case "/results":
        results.resolve(await request.json());
        return new Response(null, { status: 204 });
      case "/ws/echo": {
        const response = streams.handler(request);
        streams.accept().then((stream) => echo(watch(stream)));
        return response;
      }
      case "/ws/server-close": {
        const response = streams.handler(request);
        streams.accept().then(async (stream) => {
          watch(stream);
          await stream.opened;
          stream.close({ closeCode: 1011, reason: "server ✓ bye" });
        }).catch(() => {});
        return response;
      }
      default:
        return new Response("Not found", { status: 404 });
    }
  });
  const profile = await Deno.makeTempDir({ prefix: "chromium_profile_" });
  const browser = new Deno.Command(CHROMIUM, {
    args: [
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
      `${server.url.replace("ws:", "http:")}/?impl=${impl}`,
    ],
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
              `Chromium posted no results within ${RESULTS_TIMEOUT_MS} ms`,
            ),
          ),
        RESULTS_TIMEOUT_MS,
      );
    });
    const exited = browser.status.then((status) => {
      throw new Error(`Chromium exited early with code ${status.code}`);
    });
    const outcome = await Promise.race([results.promise, timeout, exited]);
    assert.deepEqual(outcome, {
      ok: true,
      results: {
        impl,
        text: "chromium ✓",
        binary: [1, 2, 3, 255],
        large: true,
        emptyClose: { ok: true, closeCode: 1005, reason: "" },
        protocol: "chat",
        clientClose: { ok: true, closeCode: 4001, reason: "chromium bye" },
        serverClose: { ok: true, closeCode: 1011, reason: "server ✓ bye" },
      },
    });
    assert.deepEqual(await Promise.all(serverClosed), [
      { closeCode: 1005, reason: "" },
      { closeCode: 1005, reason: "" },
      { closeCode: 4001, reason: "chromium bye" },
      { closeCode: 1011, reason: "server ✓ bye" },
    ]);
  } finally {
    clearTimeout(timer);
    // SIGTERM lets the browser take its renderer and helper processes down.
    try {
      browser.kill("SIGTERM");
    } catch {
      // It already exited.
    }
    await browser.status;
    await helpersGone(profile);
    await Deno.remove(profile, { recursive: true });
  }
}
