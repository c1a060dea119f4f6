/**
 * examples/broadcast_chat.ts as users run it: two server processes sharing
 * the room through Redis, the page in headless Chromium on one, the terminal
 * member on the other; each hears the other.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CHROMIUM, openPage } from "./_browser.ts";
import { findPeer, peerPath, peerTestOptions } from "./_peers.ts";
import { shareOrStartRedis } from "./_redis.ts";
import { DenoProcess } from "./_subprocess.ts";

const redis = findPeer("redis");

Deno.test({
  ...peerTestOptions(
    [CHROMIUM.peer, redis],
    "example broadcast_chat: a page in Chromium on one server and a terminal member on another chat through Redis",
  ),
  async fn() {
    await using redisServer = await shareOrStartRedis(peerPath(redis));
    const servers = [0, 1].map(() =>
      new DenoProcess([
        "run",
        "--allow-net=127.0.0.1",
        "--allow-read",
        "--allow-env",
        "--allow-sys",
        "examples/broadcast_chat.ts",
        "--port",
        "0",
        "--redis",
        redisServer.url,
      ])
    );
    try {
      const [pagePort, terminalPort] = await Promise.all(
        servers.map(async (server) =>
          (await server.waitForStdout(
            /^Chat on http:\/\/127\.0\.0\.1:(\d+)\/$/m,
          ))[1]
        ),
      );
      await using terminal = new DenoProcess([
        "run",
        "--allow-net=127.0.0.1",
        "examples/broadcast_chat.ts",
        "--connect",
        `ws://127.0.0.1:${terminalPort}/`,
        "--name",
        "ada",
      ]);
      await terminal.waitForStdout(/^joined .* as ada$/m);
      const story = (async () => {
        await terminal.waitForStdout(/^page: hello from the page$/m);
        await terminal.write("hi page\n");
        await terminal.waitForStdout(/^page: re: hi page$/m);
        return await terminal.finished();
      })();
      const { code, text } = await openPage(
        CHROMIUM,
        peerPath(CHROMIUM.peer),
        `http://127.0.0.1:${pagePort}/?name=page&greet=hello%20from%20the%20page&autoreply=1`,
        story,
      );
      assert.equal(code, 0);
      assert.match(text, /^closed: 1000 ada left$/m);
    } finally {
      await Promise.all(servers.map((server) => server[Symbol.asyncDispose]()));
    }
  },
});
