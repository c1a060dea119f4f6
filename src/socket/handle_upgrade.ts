/**
 * {@linkcode handleUpgrade}: the server role over a `node:http` or
 * `node:https` upgrade socket, speaking RFC 6455 itself so that a slow
 * handler paces its client through TCP.
 *
 * @module
 */

import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { describeValue, readOptionsObject } from "../options.ts";
import {
  readServerOptions,
  refuseUpgrade,
  selectProtocol,
  startServerStream,
} from "../server_handshake.ts";
import { NodeSocketConnection } from "./node_socket.ts";
import {
  type CompressionOptions,
  negotiateDeflate,
  readCompressionOption,
} from "./permessage_deflate_negotiation.ts";
import { createServerTransport } from "./server_transport.ts";
import type { UpgradeWebSocketStreamOptions } from "../upgrade_websocket_stream.ts";
import type { WebSocketStream } from "../websocket_stream.ts";

/**
 * Options for {@linkcode handleUpgrade}: those of `upgradeWebSocketStream`,
 * and compression.
 *
 * @example A server that compresses, keeping no state between messages
 * ```ts
 * import type { HandleUpgradeOptions } from "@streams/websocket/node";
 *
 * const options: HandleUpgradeOptions = {
 *   compression: { serverNoContextTakeover: true, clientNoContextTakeover: true },
 * };
 * ```
 */
export interface HandleUpgradeOptions extends UpgradeWebSocketStreamOptions {
  /**
   * Accepts permessage-deflate (RFC 7692) when the client offers it (every
   * browser does): `true` with the defaults, or an object to tune it.
   * What is sent is compressed as `threshold` and `level` say, and
   * a received message counts its inflated size against `receiveLimit`,
   * checked while it inflates. Off by default, as in npm `ws`: each
   * connection then holds zlib's state, with context takeover (the default)
   * about 280 KiB more than an uncompressed one for its whole life (210 KiB
   * with both window bits at 10); `serverNoContextTakeover` and
   * `clientNoContextTakeover` give it back between messages (30 KiB more),
   * at the cost of larger messages. Figures from
   * `deno task bench:compression` (server RSS per idle connection).
   *
   * @default {false}
   */
  compression?: boolean | CompressionOptions;
}

const HANDLE = "Cannot handle the WebSocket upgrade";

/** Throws a TypeError naming the first argument no `upgrade` event gives. */
function validateUpgradeEvent(
  request: unknown,
  socket: unknown,
  head: unknown,
): void {
  const wrong = !isObject(request) || !Array.isArray(request.rawHeaders)
    ? ["request must be an http.IncomingMessage", request]
    : !isObject(socket) || typeof socket.write !== "function" ||
        typeof socket.end !== "function"
    ? ["socket must be a stream.Duplex", socket]
    : !(head instanceof Uint8Array)
    ? ["head must be a Uint8Array", head]
    : undefined;
  if (wrong !== undefined) {
    throw new TypeError(
      `${HANDLE}: ${wrong[0]}, received ${describeValue(wrong[1])}`,
    );
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** The oldest Deno whose `node:http` upgrade sockets can pause reading. */
const MIN_DENO = [2, 8] as const;

/**
 * Takes over the socket of a `node:http` or `node:https` server's `upgrade`
 * event and returns the {@linkcode WebSocketStream} for it, speaking RFC 6455
 * itself: a handler that falls behind pauses the socket, which slows the
 * client down through TCP. The request is checked as
 * `upgradeWebSocketStream` checks it, with the same options: a request that
 * must not be upgraded gets its `400`, `403` or `426` answer written to the
 * socket, which is then ended, and `undefined` is returned. From then on the
 * socket and the chunks it emits are the stream's: it unmasks them in place
 * and may keep their memory, so nothing else should read or hold them.
 *
 * On `node:https` in Deno the socket is not paused: Deno's `node:tls` (2.9)
 * reads on from TCP while its socket is paused, and would hold what the
 * client sends outside the JS heap without bound. There, as on
 * `Deno.serve`, messages are read as they arrive and `receiveLimit` bounds
 * what waits for the handler: a client that sends further ahead is closed
 * with `overflowCloseCode`, and one that sends Pings faster than it reads
 * the Pongs is failed with 1008. Where clients may send faster than handlers
 * read, terminate TLS in front of a `node:http` server to have them paced.
 *
 * @example A server with ordinary routes and WebSockets on one port
 * ```ts
 * import { createServer } from "node:http";
 * import { handleUpgrade } from "@streams/websocket/node";
 *
 * const server = createServer((_request, response) => response.end("ok\n"));
 * server.on("upgrade", (request, socket, head) => {
 *   const stream = handleUpgrade(request, socket, head, {
 *     protocol: "chat",
 *     origins: ["https://example.com"],
 *     idleTimeout: 60,
 *   });
 *   stream?.opened.then(async ({ readable, writable }) => {
 *     const writer = writable.getWriter();
 *     for await (const message of readable) await writer.write(message);
 *   }).catch(() => {});
 * });
 * server.listen(8080);
 * ```
 *
 * @param request The request of the `upgrade` event.
 * @param socket The socket of the `upgrade` event.
 * @param head The bytes of the `upgrade` event that followed the request.
 * @param options Those of `upgradeWebSocketStream`: subprotocol selection,
 *   allowed origins, keepalive, shutdown signal and buffer limits; and
 *   compression, off by default.
 * @returns The stream, or `undefined` when the request was refused.
 * @throws {Error} On Deno older than 2.8, whose upgrade sockets cannot pause.
 * @throws {TypeError} When an argument is not what the `upgrade` event
 *   gives, an option is invalid, or a protocol selector returns a
 *   subprotocol the client did not offer.
 * @throws {RangeError} When a size or timeout option is negative or too
 *   large.
 * @throws {DOMException} `InvalidAccessError` for an `overflowCloseCode` a
 *   server may not send.
 */
export function handleUpgrade(
  request: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  options: HandleUpgradeOptions = {},
): WebSocketStream | undefined {
  refuseOldDeno();
  const given = readOptionsObject(options, HANDLE);
  const settings = readServerOptions(given, HANDLE);
  const compression = readCompressionOption(
    given.compression,
    false,
    HANDLE,
  );
  validateUpgradeEvent(request, socket, head);
  const headers = new Headers();
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    headers.append(raw[i]!, raw[i + 1]!);
  }
  const refusal = refuseUpgrade(
    { method: request.method ?? "", headers },
    settings.origins,
    HANDLE,
  );
  if (refusal !== undefined) {
    const body = new TextEncoder().encode(refusal.body);
    const lines = [
      `HTTP/1.1 ${refusal.status} ${refusal.statusText}`,
      "Content-Type: text/plain; charset=utf-8",
      `Content-Length: ${body.byteLength}`,
      "Connection: close",
      ...Object.entries(refusal.headers).map(([name, value]) =>
        `${name}: ${value}`
      ),
    ];
    socket.end(
      concat(
        new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n`),
        body,
      ),
    );
    return undefined;
  }
  const protocol = selectProtocol(
    headers.get("sec-websocket-protocol"),
    settings.protocol,
    HANDLE,
  );
  // A malformed offer is declined like one we cannot accept.
  const agreement = compression === undefined ? undefined : negotiateDeflate(
    headers.get("sec-websocket-extensions") ?? "",
    compression,
  );
  (socket as Duplex & { setNoDelay?: (noDelay: boolean) => void })
    .setNoDelay?.(true);
  const secure =
    (socket as Duplex & { encrypted?: boolean }).encrypted === true;
  const pausable = pausesTcp(secure);
  const transport = createServerTransport(
    new NodeSocketConnection(socket, pausable),
    {
      key: headers.get("sec-websocket-key")!.trim(),
      protocol,
      head: new Uint8Array(head.buffer, head.byteOffset, head.byteLength),
      highWaterMark: settings.stream.writeHighWaterMark,
      messageLimit: settings.stream.receiveLimit,
      idleTimeout: settings.idleTimeout,
      pausable,
      ...(typeof agreement === "object" &&
        {
          compression: {
            ...agreement,
            threshold: compression!.threshold,
            level: compression!.level,
          },
        }),
    },
  );
  const url = requestUrl(
    request.url ?? "/",
    headers.get("host") ?? "localhost",
    secure,
  );
  return startServerStream(transport, settings, url);
}

/**
 * Whether pausing the upgrade socket stops reading from TCP. Deno's
 * `node:tls` reads on while a TLS socket is paused and holds what arrives
 * outside the JS heap, without bound: there the session reads on instead,
 * and the receive limit bounds what waits for the handler, as on
 * `Deno.serve`.
 */
function pausesTcp(secure: boolean): boolean {
  return !secure || typeof (globalThis as { Deno?: unknown }).Deno !== "object";
}

function refuseOldDeno(): void {
  const version = (globalThis as { Deno?: { version?: { deno?: string } } })
    .Deno?.version?.deno;
  if (version === undefined) return;
  const [major = 0, minor = 0] = version.split(".").map(Number);
  if (major < MIN_DENO[0] || (major === MIN_DENO[0] && minor < MIN_DENO[1])) {
    throw new Error(
      `${HANDLE}: node:http upgrade sockets need Deno ${
        MIN_DENO.join(".")
      } or later to pause reading, running Deno ${version}`,
    );
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.byteLength + b.byteLength);
  joined.set(a);
  joined.set(b, a.byteLength);
  return joined;
}

/** What an absolute-form request target starts with: a scheme and "//". */
const ABSOLUTE_FORM = /^[a-z][a-z\d+.-]*:\/\//i;

/**
 * The URL a request names, as `Deno.serve` gives it: an absolute-form target
 * (`GET http://host/path`) is the URL itself, any other is a path on the
 * Host header's authority. The stream normalises it when its `url` is read.
 */
function requestUrl(target: string, host: string, secure: boolean): string {
  if (ABSOLUTE_FORM.test(target)) return target;
  return `${secure ? "wss" : "ws"}://${host}${target}`;
}
