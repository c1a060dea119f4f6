/**
 * The web's `WebSocketStream` API on stable Deno, in browsers without it and
 * in any runtime with a global `WebSocket`: a WebSocket connection as a
 * `ReadableStream` and a `WritableStream`, with send backpressure and a
 * bounded receive queue. On Deno, `transport: "socket"` paces a slow reader
 * through TCP instead, and {@linkcode upgradeWebSocketStream} gives a
 * `Deno.serve` handler the same streams for the server role.
 *
 * @example A client
 * ```ts
 * import { WebSocketStream } from "@streams/websocket";
 *
 * const wss = new WebSocketStream("ws://localhost:8080/");
 * const { readable, writable } = await wss.opened;
 * const writer = writable.getWriter();
 * await writer.write("ping");
 * const { value } = await readable.getReader().read();
 * console.log(value);
 * wss.close({ closeCode: 1000, reason: "done" });
 * console.log(await wss.closed); // { closeCode: 1000, reason: "done" }
 * ```
 *
 * @module
 */

export {
  WebSocketStream,
  type WebSocketStreamOptions,
} from "./src/websocket_stream.ts";
export {
  type WebSocketCloseInfo,
  WebSocketError,
} from "./src/websocket_error.ts";
export type {
  WebSocketClosedInfo,
  WebSocketOpenInfo,
} from "./src/stream_core.ts";
export type { StreamOptions } from "./src/options.ts";
export type { CompressionOptions } from "./src/socket/permessage_deflate_negotiation.ts";
export {
  type ProtocolSelection,
  upgradeWebSocketStream,
  type UpgradeWebSocketStreamOptions,
  type WebSocketStreamUpgrade,
} from "./src/upgrade_websocket_stream.ts";
