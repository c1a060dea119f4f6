/**
 * The server the interop peers (browsers, Node, `ws`) run
 * `tests/peers/scenarios.mjs` against, on either server path: an echo
 * server (selecting `chat` if offered) and a server that closes each stream
 * with 1011 right after opening, both started by `ServerPath.start`, and a
 * `Deno.serve` server for the peer's pages and scripts, with `/results` for a
 * page to post to. Also what every peer must have seen.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { WebSocketClosedInfo, WebSocketStream } from "../mod.ts";
import { serve, type TestServer } from "./_wpt_server.ts";
import { echo } from "./_stream_server.ts";
import type { ServerPath } from "./_server_paths.ts";

const PEERS = new URL("./peers/", import.meta.url);

/** A running interop server. */
export interface InteropServer extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` of the pages, on `Deno.serve` whatever the path. */
  httpUrl: string;
  /** The WebSocket URLs of the scenarios, served on the path under test. */
  urls: ScenarioUrls;
  /** What a page POSTed to `/results`. */
  results: Promise<unknown>;
  /**
   * How each server-side stream ended: the echo streams in the order they
   * were upgraded, then the streams the server closed.
   */
  serverClosed(): Promise<WebSocketClosedInfo[]>;
}

/** Where the scenarios connect: as `runScenarios` takes them. */
export interface ScenarioUrls {
  /** Echoes every message; selects `chat` if offered. */
  echo: string;
  /** Closes with 1011 and `server ✓ bye` right after opening. */
  serverClose: string;
}

/** Our module as one script that browsers and Node can import. */
export async function bundleModule(entry = "mod.ts"): Promise<string> {
  const { stdout, stderr, success } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      new URL(`../${entry}`, import.meta.url).pathname,
    ],
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  assert.ok(success, decoder.decode(stderr));
  return decoder.decode(stdout);
}

/** Hands every stream `server` upgrades to `handle`, until it stops. */
function acceptEach(
  server: TestServer & { accept(): Promise<WebSocketStream> },
  handle: (stream: WebSocketStream) => void,
): void {
  const next = (): void => {
    // Pending forever once the server stops, which holds no resource.
    server.accept().then((stream) => {
      handle(stream);
      next();
    });
  };
  next();
}

/**
 * Serves the scenarios' WebSocket routes on `path`, and on `Deno.serve` the
 * pages: `/` loads `browser_page.mjs` (the WebSocket URLs in its query), and
 * `/mod.js` serves `module` (a bundle of ours, or nothing).
 */
export async function startInteropServer(
  path: ServerPath,
  module = "",
): Promise<InteropServer> {
  const page = await Deno.readTextFile(new URL("browser_page.mjs", PEERS));
  const scenarios = await Deno.readTextFile(new URL("scenarios.mjs", PEERS));
  const results = Promise.withResolvers<unknown>();
  const echoed: Promise<WebSocketClosedInfo>[] = [];
  const closedByServer: Promise<WebSocketClosedInfo>[] = [];
  const echoServer = await path.start({ protocol: ["chat"] });
  const closeServer = await path.start();
  acceptEach(echoServer, (stream) => {
    echoed.push(stream.closed);
    echo(stream);
  });
  acceptEach(closeServer, (stream) => {
    closedByServer.push(stream.closed);
    stream.opened.then(() =>
      stream.close({ closeCode: 1011, reason: "server ✓ bye" })
    ).catch(() => {});
  });
  const script = (body: string) =>
    new Response(body, {
      headers: { "content-type": "text/javascript; charset=utf-8" },
    });
  const pages = serve(async (request) => {
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
      default:
        return new Response("Not found", { status: 404 });
    }
  });
  const close = async () => {
    await Promise.all([pages.close(), echoServer.close(), closeServer.close()]);
  };
  return {
    httpUrl: pages.url.replace("ws:", "http:"),
    urls: {
      echo: `${echoServer.url}/echo`,
      serverClose: `${closeServer.url}/server-close`,
    },
    results: results.promise,
    serverClosed: () => Promise.all([...echoed, ...closedByServer]),
    [Symbol.asyncDispose]: close,
  };
}

/** Who ran the scenarios, and how its runtime answers a server's Close. */
export interface Peer {
  /** Tags the texts the peer sends. */
  name: string;
  /** Whose client the peer used: its runtime's WebSocketStream, ours, or npm `ws`. */
  impl: "native" | "ours" | "ws";
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
