/**
 * The server the interop peers (browsers, Node) run
 * `tests/peers/scenarios.mjs` against: our `upgradeWebSocketStream` behind
 * `/ws/…`, the peer's scripts, and `/results` for a page to post to. Also
 * what every peer must have seen.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { WebSocketClosedInfo, WebSocketStream } from "../mod.ts";
import { serve, type TestServer } from "./_wpt_server.ts";
import { echo, streamHandler } from "./_stream_server.ts";

const PEERS = new URL("./peers/", import.meta.url);

/** A running interop server. */
export interface InteropServer extends TestServer {
  /** `http://127.0.0.1:PORT` */
  httpUrl: string;
  /** What a page POSTed to `/results`. */
  results: Promise<unknown>;
  /** How each server-side stream ended, in the order they were upgraded. */
  serverClosed(): Promise<WebSocketClosedInfo[]>;
}

/** Our module as one script that browsers and Node can import. */
export async function bundleModule(): Promise<string> {
  const { stdout, stderr, success } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", new URL("../mod.ts", import.meta.url).pathname],
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  assert.ok(success, decoder.decode(stderr));
  return decoder.decode(stdout);
}

/**
 * Serves the scenarios' routes; `/` is a page loading `browser_page.mjs`,
 * and `/mod.js` serves `module` (a bundle of ours, or nothing).
 */
export async function startInteropServer(
  module = "",
): Promise<InteropServer> {
  const page = await Deno.readTextFile(new URL("browser_page.mjs", PEERS));
  const scenarios = await Deno.readTextFile(new URL("scenarios.mjs", PEERS));
  const results = Promise.withResolvers<unknown>();
  const closed: Promise<WebSocketClosedInfo>[] = [];
  const streams = streamHandler({ protocol: ["chat"] });
  const watch = (stream: WebSocketStream) => {
    closed.push(stream.closed);
    return stream;
  };
  const script = (body: string) =>
    new Response(body, {
      headers: { "content-type": "text/javascript; charset=utf-8" },
    });
  const server = serve(async (request) => {
    switch (new URL(request.url).pathname) {
      case "/":
        return new Response(
          '<!doctype html><meta charset="utf-8"><script type="module" src="/page.mjs"></script>',
          { headers: { "content-type": "text/html; charset=utf-8" } },
        );
      case "/page.mjs":
        return script(page);
      case "/scenarios.mjs":
        return script(scenarios);
      case "/mod.js":
        return script(module);
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
  return {
    ...server,
    httpUrl: server.url.replace("ws:", "http:"),
    results: results.promise,
    serverClosed: () => Promise.all(closed),
  };
}

/** Who ran the scenarios, and how its runtime answers a server's Close. */
export interface Peer {
  /** Tags the texts the peer sends. */
  name: string;
  /** Whose WebSocketStream the peer used. */
  impl: "native" | "ours";
  /**
   * Whether the peer's WebSocket echoes the reason along with the code when it
   * answers our Close: browsers do, Node's undici sends the code alone (RFC
   * 6455 leaves it open).
   */
  echoesReason: boolean;
}

/** Asserts what `peer` and our server must both have seen. */
export async function assertScenarios(
  server: InteropServer,
  outcome: unknown,
  { name, impl, echoesReason }: Peer,
): Promise<void> {
  assert.deepEqual(outcome, {
    ok: true,
    impl,
    results: {
      text: `${name} ✓`,
      binary: [1, 2, 3, 255],
      large: true,
      emptyClose: { ok: true, closeCode: 1005, reason: "" },
      protocol: "chat",
      clientClose: { ok: true, closeCode: 4001, reason: `${name} bye` },
      serverClose: { ok: true, closeCode: 1011, reason: "server ✓ bye" },
    },
  });
  assert.deepEqual(await server.serverClosed(), [
    { closeCode: 1005, reason: "" },
    { closeCode: 1005, reason: "" },
    { closeCode: 4001, reason: `${name} bye` },
    { closeCode: 1011, reason: echoesReason ? "server ✓ bye" : "" },
  ]);
}
