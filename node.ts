/**
 * WebSocketStream servers on `node:http` and `node:https`: hand the
 * `upgrade` event to {@linkcode handleUpgrade} and get a
 * {@linkcode WebSocketStream} that paces its client through TCP. A handler
 * that reads slowly pauses the socket, so the client's writes wait instead of
 * the server's memory filling up: the backpressure `Deno.serve`'s
 * WebSocket cannot give. Runs on Deno 2.8 or later and on Node 22 or later
 * (Node 20 lacks `Promise.withResolvers`); Node loads no `jsr:` specifiers,
 * so add the package there with `npx jsr add @streams/websocket` and import
 * `@streams/websocket/node`. On `node:https` in Deno, whose
 * `node:tls` reads on from TCP while paused, the receive limit bounds a
 * client instead (see {@linkcode handleUpgrade}).
 *
 * A separate entry from `mod.ts`, which stays free of `node:` imports so that
 * browsers can load it.
 *
 * @example An echo server on node:http
 * ```ts
 * import { createServer } from "node:http";
 * import { handleUpgrade } from "@streams/websocket/node";
 *
 * const server = createServer((_request, response) => response.end("hi\n"));
 * server.on("upgrade", (request, socket, head) => {
 *   const stream = handleUpgrade(request, socket, head);
 *   stream?.opened.then(({ readable, writable }) => readable.pipeTo(writable))
 *     .catch(() => {});
 * });
 * server.listen(8080);
 * ```
 *
 * @module
 */

export {
  handleUpgrade,
  type HandleUpgradeOptions,
} from "./src/socket/handle_upgrade.ts";
export type { CompressionOptions } from "./src/socket/permessage_deflate_negotiation.ts";
export type { UpgradeWebSocketStreamOptions } from "./src/upgrade_websocket_stream.ts";
export type { WebSocketStream } from "./src/websocket_stream.ts";
