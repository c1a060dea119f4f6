/**
 * The server paths every server case runs over, and the one place that says
 * where they are expected to differ and why: `Deno.serve` with
 * `upgradeWebSocketStream` (built on `Deno.upgradeWebSocket`) and `node:http`
 * with `handleUpgrade` (our own RFC 6455 server over the upgrade socket). A
 * case asks its path (`path.pacesReads`, ...) instead of naming it.
 *
 * As for client transports, a difference is a documented property of the
 * path; a case that fails because of a bug goes in
 * {@linkcode KNOWN_SERVER_BUGS}, reported as ignored under a name that says
 * so, until the bug is fixed.
 *
 * @module
 */

import type { UpgradeWebSocketStreamOptions } from "../mod.ts";
import { startNodeStreamServer } from "./_node_stream_server.ts";
import { startStreamServer, type StreamServer } from "./_stream_server.ts";
import type { Wording } from "./_transports.ts";
import { type Peer, peerTestOptions } from "./_peers.ts";

/** A server path under test. */
export interface ServerPath {
  /** How the path is called in test names. */
  readonly name: "Deno.serve" | "node:http";
  /**
   * Serves `options` on an ephemeral loopback port; the test accepts the
   * upgraded streams in arrival order and stops the server by disposing it.
   */
  start(options?: UpgradeWebSocketStreamOptions): Promise<StreamServer>;
  /**
   * FLT-01: who words failure messages: `Deno.upgradeWebSocket`, or our
   * RFC 6455 server.
   */
  readonly wording: Wording;
  /**
   * BP-01, LIM-04: whether a handler that falls behind slows the client
   * down. `Deno.upgradeWebSocket` reads everything the client sends, so a
   * server stream whose reader falls behind overflows `receiveLimit` and
   * closes with `overflowCloseCode`; `handleUpgrade` pauses the socket and
   * the client waits, so only a message longer than the limit overflows.
   */
  readonly pacesReads: boolean;
  /**
   * CLD-05: the close a client that drops TCP after the server's Close,
   * without answering, gives. Deno's server socket reports it exactly like an
   * empty Close reply (a clean 1005); `handleUpgrade` sees the missing Close
   * (an unclean 1006).
   */
  readonly droppedAfterOurClose: "clean 1005" | "unclean 1006";
  /**
   * SRV-12, LIM-03: a client frame that announces 64 MiB. Deno's server
   * drops such a connection at once (its own frame limit: 1006, "Frame too
   * large"); `handleUpgrade` treats it as any message longer than
   * `receiveLimit`: a Close with `overflowCloseCode`, skipping the payload as
   * it arrives.
   */
  readonly hugeFrame: "dropped 1006" | "overflow close";
  /**
   * SRV-06: whether requests that are not upgrades reach the code under
   * test. `node:http` gives them to its `request` handler, never to
   * `handleUpgrade`; `Deno.serve` gives every request to the handler, and
   * `upgradeWebSocketStream` answers 426.
   */
  readonly seesPlainRequests: boolean;
  /**
   * Whether the server stream's Close survives client frames that are
   * already on their way. Deno tears the connection down on the next data
   * frame after its Close (both ends see 1006); `handleUpgrade` reads and
   * drops them, as RFC 6455 asks, and the close completes.
   */
  readonly keepsCloseWhileClientSends: boolean;
  /**
   * CLD-02, WR-11: whether a client's Close that arrives while our message
   * is still being written always makes the close unclean. Deno's server
   * socket tells of the Close only once the message has gone out (as its
   * client does); `handleUpgrade` sees the Close as it comes.
   */
  readonly seesCloseDuringWrite: boolean;
}

/** Every server path, `Deno.serve` first. */
export const SERVER_PATHS: readonly ServerPath[] = [
  {
    name: "Deno.serve",
    wording: "Deno",
    start: (options) => Promise.resolve(startStreamServer(options)),
    pacesReads: false,
    droppedAfterOurClose: "clean 1005",
    hugeFrame: "dropped 1006",
    seesPlainRequests: true,
    keepsCloseWhileClientSends: false,
    seesCloseDuringWrite: false,
  },
  {
    name: "node:http",
    wording: "ours",
    start: startNodeStreamServer,
    pacesReads: true,
    droppedAfterOurClose: "unclean 1006",
    hugeFrame: "overflow close",
    seesPlainRequests: false,
    keepsCloseWhileClientSends: true,
    seesCloseDuringWrite: true,
  },
];

/**
 * Cases that fail on a path because of a bug, by test name (without the path
 * suffix) and path: what is wrong. Each is reported as ignored under a
 * "KNOWN BUG" name; remove the entry with the fix.
 */
export const KNOWN_SERVER_BUGS: Readonly<
  Record<string, Partial<Record<ServerPath["name"], string>>>
> = {};

/**
 * Registers the server case `name` once per path in
 * {@linkcode SERVER_PATHS}, as `name [path]`. A case that needs outside
 * `peers` (a browser, Node) is skipped as `peerTestOptions` says where one
 * is missing.
 */
export function serverTest(
  name: string,
  fn: (path: ServerPath) => void | Promise<void>,
  peers: readonly Peer[] = [],
): void {
  for (const path of SERVER_PATHS) {
    const bug = KNOWN_SERVER_BUGS[name]?.[path.name];
    Deno.test({
      ...(bug === undefined
        ? peerTestOptions(peers, `${name} [${path.name}]`)
        : { name: `KNOWN BUG ${name} [${path.name}]: ${bug}`, ignore: true }),
      fn: () => fn(path),
    });
  }
}
