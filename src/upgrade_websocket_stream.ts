/**
 * The server role: upgrade a `Deno.serve` request to a
 * {@linkcode WebSocketStream}.
 *
 * @module
 */

import { isProtocolToken } from "./handshake_options.ts";
import {
  readAmount,
  readStreamOptions,
  type StreamOptions,
} from "./options.ts";
import { StreamCore } from "./stream_core.ts";
import type { Transport } from "./transport.ts";
import { adopt, type WebSocketStream } from "./websocket_stream.ts";
import { WebSocketTransport } from "./websocket_transport.ts";

/**
 * Picks the subprotocol from what the client offered: one name, a preference
 * list (the first in it that the client offered wins), or a function of the
 * offered list that returns one of them or `undefined` for none.
 *
 * @example Preferring the newest version the client speaks
 * ```ts
 * import type { ProtocolSelection } from "@streams/websocket";
 *
 * const newest: ProtocolSelection = (offered) =>
 *   offered.filter((name) => name.startsWith("chat.v")).sort().at(-1);
 * ```
 */
export type ProtocolSelection =
  | string
  | readonly string[]
  | ((offered: readonly string[]) => string | undefined);

/**
 * Options for {@linkcode upgradeWebSocketStream}.
 *
 * @example A server for one site, with keepalive and graceful shutdown
 * ```ts
 * import { upgradeWebSocketStream } from "@streams/websocket";
 *
 * const controller = new AbortController();
 * Deno.serve({ signal: controller.signal }, (request) => {
 *   const { response, stream } = upgradeWebSocketStream(request, {
 *     protocol: ["chat.v2", "chat.v1"],
 *     origins: ["https://example.com"],
 *     idleTimeout: 60,
 *     signal: controller.signal,
 *   });
 *   stream?.opened.then(({ readable, writable }) => readable.pipeTo(writable))
 *     .catch(() => {});
 *   return response;
 * });
 * ```
 */
export interface UpgradeWebSocketStreamOptions extends StreamOptions {
  /**
   * The subprotocol to select. When the client offered none of the
   * candidates, the connection is accepted without a subprotocol, as RFC 6455
   * says; a client that offered some (every browser, and `WebSocketStream`)
   * then fails it. The offer is parsed here, so both `a, b` and the `a,b`
   * the npm `ws` client sends work (answering `a,b` needs Deno 2.5 or
   * later); a selector returning a name the client did not offer is a
   * `TypeError`.
   *
   * @default {undefined} no subprotocol
   */
  protocol?: ProtocolSelection;
  /**
   * The origins allowed to connect, such as `["https://example.com"]`, or a
   * function of the request's `Origin` header. A request whose `Origin` is
   * refused gets a 403 response and no upgrade: the defence against
   * cross-site WebSocket hijacking. Requests without an `Origin` header come
   * from non-browser clients and are let through by the list form.
   *
   * @default {undefined} every origin is allowed
   */
  origins?: readonly string[] | ((origin: string | null) => boolean);
  /**
   * The `signal` given to `Deno.serve`: when it aborts, the stream closes with
   * 1001 "Server shutting down" before Deno drops the connection, so both
   * ends see a clean 1001. Without it, aborting `Deno.serve` drops the
   * connection: clients report an abnormal 1006, and the stream a clean 1005.
   * (`server.shutdown()` needs no signal for the clients: Deno 2.9 sends them
   * 1001 itself, though the stream then reports 1005.)
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Seconds without a pong before Deno closes the connection (1001); a ping
   * goes out at half of it. `0` turns keepalive off. Passed to
   * `Deno.upgradeWebSocket`.
   *
   * @default {30}
   */
  idleTimeout?: number;
}

/**
 * What {@linkcode upgradeWebSocketStream} returns: the response to send back
 * and, when the request was upgraded, the stream.
 *
 * @example Returning the response whether or not the request was upgraded
 * ```ts
 * import { upgradeWebSocketStream } from "@streams/websocket";
 *
 * function handler(request: Request): Response {
 *   const { response, stream } = upgradeWebSocketStream(request);
 *   if (stream === undefined) return response; // 400, 403 or 426
 *   stream.opened.then(({ writable }) => writable.getWriter().write("hi"))
 *     .catch(() => {});
 *   return response;
 * }
 * ```
 */
export type WebSocketStreamUpgrade =
  | { response: Response; stream: WebSocketStream }
  | { response: Response; stream: undefined };

const UPGRADE = "Cannot upgrade to WebSocketStream";

/**
 * Upgrades a WebSocket handshake request received by `Deno.serve` and returns
 * the 101 response together with a {@linkcode WebSocketStream} for the
 * connection: the same `opened`, `closed`, `close()`, streams, errors and
 * backpressure as the client, and the server's close codes (1001, 1008,
 * 1011...) besides. No message is lost between the response and the first
 * read. A server cannot take back its 101, so `close()` called before the
 * socket opens is carried out once it opens.
 *
 * A request that is not a WebSocket upgrade gets a ready `426 Upgrade
 * Required` response, a malformed handshake (not GET, no `Connection:
 * Upgrade` or `Sec-WebSocket-Key`) a `400 Bad Request`, a WebSocket version
 * other than 13 a `426` naming 13, one from a refused origin a `403
 * Forbidden`; none of them gets a stream.
 *
 * @example An echo server
 * ```ts
 * import { upgradeWebSocketStream } from "@streams/websocket";
 *
 * export default {
 *   fetch(request: Request): Response {
 *     const { response, stream } = upgradeWebSocketStream(request);
 *     if (stream) {
 *       stream.opened.then(({ readable, writable }) =>
 *         readable.pipeTo(writable)
 *       ).catch(() => {});
 *     }
 *     return response;
 *   },
 * };
 * ```
 *
 * @param request The request `Deno.serve` passed to its handler.
 * @param options Subprotocol selection, allowed origins, keepalive and
 *   buffer limits.
 * @returns The response to return from the handler, and the stream.
 * @throws {TypeError} When an option is invalid, or a protocol selector
 *   returns a subprotocol the client did not offer.
 * @throws {RangeError} When a size or timeout option is negative or too
 *   large.
 * @throws {DOMException} `InvalidAccessError` for an `overflowCloseCode` a
 *   server may not send.
 */
export function upgradeWebSocketStream(
  request: Request,
  options: UpgradeWebSocketStreamOptions = {},
): WebSocketStreamUpgrade {
  const settings = readStreamOptions(options, "server", UPGRADE);
  const { signal, origins, protocol: selection } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${UPGRADE}: options.signal must be an AbortSignal`);
  }
  if (
    origins !== undefined && typeof origins !== "function" &&
    !Array.isArray(origins)
  ) {
    throw new TypeError(
      `${UPGRADE}: options.origins must be an array of origins or a function`,
    );
  }
  if (
    selection !== undefined && typeof selection !== "string" &&
    typeof selection !== "function" && !Array.isArray(selection)
  ) {
    throw new TypeError(
      `${UPGRADE}: options.protocol must be a string, an array of strings or a function`,
    );
  }
  const idleTimeout = readAmount(
    options.idleTimeout,
    DEFAULT_IDLE_TIMEOUT,
    "idleTimeout",
    UPGRADE,
  );
  const refusal = refuseUpgrade(request, origins);
  if (refusal !== undefined) return { response: refusal, stream: undefined };
  const offer = request.headers.get("sec-websocket-protocol");
  const protocol = selectProtocol(parseProtocolHeader(offer), selection);
  const { socket, response } = upgrade(request, offer, protocol, idleTimeout);
  const transport = new WebSocketTransport(
    socket,
    settings.writeHighWaterMark,
    protocol ?? "",
  );
  const core = new StreamCore(
    signal === undefined ? transport : reportShutdown(transport, signal),
    settings,
  );
  core.start();
  if (signal !== undefined) closeOnShutdown(core, signal);
  const url = new URL(request.url);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return { response, stream: adopt(url.href, core) };
}

/**
 * Deno.upgradeWebSocket finds the protocol only in an offer separated by
 * ", ", and throws on "a,b" as npm's ws sends it; the header is then set on
 * the response instead, which Deno allows from 2.5 on.
 */
function upgrade(
  request: Request,
  offer: string | null,
  protocol: string | undefined,
  idleTimeout: number,
): { socket: WebSocket; response: Response } {
  const denoFindsIt = protocol !== undefined &&
    (offer ?? "").split(", ").includes(protocol);
  const upgraded = Deno.upgradeWebSocket(
    request,
    denoFindsIt ? { protocol, idleTimeout } : { idleTimeout },
  );
  if (protocol !== undefined && !denoFindsIt) {
    upgraded.response.headers.set("sec-websocket-protocol", protocol);
  }
  return upgraded;
}

/** Deno's own default for `idleTimeout`, in seconds. */
const DEFAULT_IDLE_TIMEOUT = 30;

/**
 * The ready response for a request that must not be upgraded, or `undefined`
 * to upgrade it. Deno.upgradeWebSocket would throw on a malformed handshake;
 * a client deserves an HTTP answer instead.
 */
function refuseUpgrade(
  request: Request,
  origins: UpgradeWebSocketStreamOptions["origins"],
): Response | undefined {
  const { headers } = request;
  if (!hasToken(headers.get("upgrade"), "websocket")) {
    return new Response("Expected a WebSocket upgrade request\n", {
      status: 426,
      headers: { "upgrade": "websocket", "connection": "Upgrade" },
    });
  }
  if (
    request.method !== "GET" ||
    !hasToken(headers.get("connection"), "upgrade") ||
    !headers.get("sec-websocket-key")
  ) {
    return new Response(
      "Malformed WebSocket upgrade request: it needs GET, Connection: Upgrade and Sec-WebSocket-Key\n",
      { status: 400 },
    );
  }
  if (headers.get("sec-websocket-version") !== "13") {
    return new Response("Unsupported WebSocket version: 13 is required\n", {
      status: 426,
      headers: { "sec-websocket-version": "13" },
    });
  }
  if (!isOriginAllowed(headers.get("origin"), origins)) {
    return new Response("Origin not allowed\n", { status: 403 });
  }
  return undefined;
}

/** Whether a comma-separated header holds `token`, case-insensitively. */
function hasToken(header: string | null, token: string): boolean {
  return (header ?? "").split(",").some((value) =>
    value.trim().toLowerCase() === token
  );
}

/** The reason sent with 1001 when the server shuts down. */
const SHUTDOWN_REASON = "Server shutting down";

function closeOnShutdown(core: StreamCore, signal: AbortSignal): void {
  const shutDown = () => core.close(1001, SHUTDOWN_REASON);
  if (signal.aborted) {
    shutDown();
    return;
  }
  signal.addEventListener("abort", shutDown, { once: true });
  const forget = () => signal.removeEventListener("abort", shutDown);
  core.closed.then(forget, forget);
}

/**
 * Deno reports 1005 for every socket its shutdown tears down, even after our
 * 1001 went out and was answered; report the 1001 the peer was sent.
 */
function reportShutdown(transport: Transport, signal: AbortSignal): Transport {
  return {
    start: (events) =>
      transport.start({
        onOpen: (protocol, extensions) => events.onOpen(protocol, extensions),
        onMessage: (message) => events.onMessage(message),
        onOverflow: () => events.onOverflow(),
        onClose: (closeCode, reason, failure, wasClean) =>
          signal.aborted && closeCode === 1005
            ? events.onClose(1001, SHUTDOWN_REASON, failure, wasClean)
            : events.onClose(closeCode, reason, failure, wasClean),
      }),
    send: (message) => transport.send(message),
    close: (closeCode, reason) => transport.close(closeCode, reason),
    terminate: () => transport.terminate(),
  };
}

function isOriginAllowed(
  origin: string | null,
  allowed: UpgradeWebSocketStreamOptions["origins"],
): boolean {
  if (allowed === undefined) return true;
  if (typeof allowed === "function") return allowed(origin);
  return origin === null || allowed.includes(origin);
}

/** Splits a `Sec-WebSocket-Protocol` header, with or without spaces. */
function parseProtocolHeader(header: string | null): string[] {
  if (header === null) return [];
  return header.split(",").map((token) => token.trim()).filter(isProtocolToken);
}

function selectProtocol(
  offered: readonly string[],
  selection: ProtocolSelection | undefined,
): string | undefined {
  if (selection === undefined) return undefined;
  if (typeof selection === "function") {
    const chosen = selection(offered);
    if (chosen !== undefined && !offered.includes(chosen)) {
      throw new TypeError(
        `${UPGRADE}: the protocol selector returned "${chosen}", which the client did not offer`,
      );
    }
    return chosen;
  }
  const candidates = typeof selection === "string" ? [selection] : selection;
  return candidates.find((candidate) => offered.includes(candidate));
}
