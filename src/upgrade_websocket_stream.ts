/**
 * The server role: upgrade a `Deno.serve` request to a
 * {@linkcode WebSocketStream}.
 *
 * @module
 */

import { describeValue, type StreamOptions } from "./options.ts";
import {
  readServerOptions,
  refuseUpgrade,
  selectProtocol,
  startServerStream,
} from "./server_handshake.ts";
import type { WebSocketStream } from "./websocket_stream.ts";
import { denoSlot, WebSocketTransport } from "./websocket_transport.ts";

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
   * later: before, such a client is answered without a subprotocol); a
   * selector returning a name the client did not offer, or anything but a
   * string or `undefined` (it cannot be async), is a `TypeError`, and so is
   * a name no client can offer (`"a, b"`: give several as an array).
   *
   * @default {undefined} no subprotocol
   */
  protocol?: ProtocolSelection;
  /**
   * The origins allowed to connect, such as `["https://example.com"]`, or a
   * function of the request's `Origin` header. A request whose `Origin` is
   * refused gets a 403 response and no upgrade: the defence against
   * cross-site WebSocket hijacking. Requests without an `Origin` header come
   * from non-browser clients and are let through by the list form. List
   * origins as browsers send them (`new URL(url).origin`: lower case, no
   * default port, no trailing slash) or `"null"`; any other entry is a
   * `TypeError`, as it would refuse its site. The function must answer
   * with a boolean, at once: anything else (a Promise) is a `TypeError`.
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
   * 1001 itself, though the stream then reports 1005.) A handshake the abort
   * catches before its 101 went out never completes (Deno drops it without a
   * word); its stream fails after `closeTimeout`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Seconds without a pong before Deno closes the connection (1001); a ping
   * goes out at half of it. `0` turns keepalive off; at most 4294967.294
   * (about 49 days: half of it must fit a timer). Passed to
   * `Deno.upgradeWebSocket`. `handleUpgrade` keeps alive itself, on a timer
   * of half this period shared by its connections: a silent client is pinged
   * after a half to a whole `idleTimeout` and closed half of it later.
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
 * Upgrade` or a `Sec-WebSocket-Key` of 16 bytes in base64) a `400 Bad
 * Request`, a WebSocket version
 * other than 13 a `426` naming 13, one from a refused origin a `403
 * Forbidden`; none of them gets a stream.
 *
 * Return `response` from the handler, without delay: Deno sends the 101
 * only then. A handler that returns another response or throws after the
 * upgrade leaves the stream pending for good (neither `opened` nor `closed`
 * settles), and Deno 2.9 then stops the whole server. A client that leaves
 * before the response is returned leaves it pending too: Deno 2.9 never
 * tells the socket, and `server.shutdown()` then never finishes (an abort of
 * the `signal` option ends such a stream).
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
 * @throws {TypeError} When `request` is not a `Request`, not the one
 *   `Deno.serve` passed to the handler (a copy made by `clone()` or
 *   `new Request()`) or already upgraded, an option is invalid, a
 *   protocol selector returns a subprotocol the client did not offer, or
 *   the runtime has no `Deno.upgradeWebSocket` (use `handleUpgrade` there).
 * @throws {RangeError} When a size or timeout option is negative or too
 *   large.
 * @throws {DOMException} `InvalidAccessError` for an `overflowCloseCode` a
 *   server may not send.
 */
export function upgradeWebSocketStream(
  request: Request,
  options: UpgradeWebSocketStreamOptions = {},
): WebSocketStreamUpgrade {
  const settings = readServerOptions(options, UPGRADE);
  if (!(request instanceof Request)) {
    throw new TypeError(
      `${UPGRADE}: request must be a Request, received ${
        describeValue(request)
      }`,
    );
  }
  const served = readServedRequest(request);
  if (served === "upgraded") {
    throw new TypeError(`${UPGRADE}: request was already upgraded`);
  }
  const refusal = refuseUpgrade(request, settings.origins, UPGRADE);
  if (refusal !== undefined) {
    return {
      response: new Response(refusal.body, {
        status: refusal.status,
        headers: refusal.headers,
      }),
      stream: undefined,
    };
  }
  if (typeof denoUpgrade() !== "function") {
    throw new TypeError(
      `${UPGRADE}: this runtime has no Deno.upgradeWebSocket; with node:http, use handleUpgrade from "@streams/websocket/node"`,
    );
  }
  if (served === "copy") {
    throw new TypeError(
      `${UPGRADE}: request must be the one Deno.serve passed to its handler, received a copy (made by clone() or new Request())`,
    );
  }
  const offer = request.headers.get("sec-websocket-protocol");
  const protocol = selectProtocol(offer, settings.protocol, UPGRADE);
  const { socket, response, answered } = upgrade(
    request,
    offer,
    protocol,
    settings.idleTimeout,
  );
  const transport = new WebSocketTransport(
    socket,
    settings.stream.writeHighWaterMark,
    answered,
  );
  return {
    response,
    stream: startServerStream(transport, settings, request.url),
  };
}

/**
 * What Deno can upgrade: only the request `Deno.serve` passed to the handler,
 * once. Given a copy, `Deno.upgradeWebSocket` returns a 101 all the same (the
 * client opens) and a socket that never opens; given a request it upgraded,
 * reading its headers fails with "Request closed". Its internal request
 * tells them apart; where that differs, the request is taken as served.
 */
function readServedRequest(
  request: Request,
): "served" | "copy" | "upgraded" {
  const inner = denoSlot(request, "request");
  if (typeof inner !== "object" || inner === null) return "served";
  const { _wantsUpgrade, _throwIfUpgraded } = inner as {
    _wantsUpgrade?: unknown;
    _throwIfUpgraded?: unknown;
  };
  if (typeof _wantsUpgrade !== "function") return "copy";
  if (typeof _throwIfUpgraded !== "function") return "served";
  try {
    _throwIfUpgraded.call(inner);
  } catch {
    return "upgraded";
  }
  return "served";
}

/** `Deno.upgradeWebSocket`, where the runtime has it (not Node, nor Bun). */
function denoUpgrade(): unknown {
  return (globalThis as { Deno?: { upgradeWebSocket?: unknown } }).Deno
    ?.upgradeWebSocket;
}

/**
 * Deno.upgradeWebSocket finds the protocol only in an offer separated by
 * ", ", and throws on "a,b" as npm's ws sends it; the header is then set on
 * the response instead, which Deno allows from 2.5 on. Before, the 101 goes
 * without a subprotocol (the client then fails it, as for no match): a
 * throw once upgraded would make Deno stop the whole server.
 *
 * @returns The socket, the response and the subprotocol it answers ("" for
 *   none).
 */
function upgrade(
  request: Request,
  offer: string | null,
  protocol: string | undefined,
  idleTimeout: number,
): { socket: WebSocket; response: Response; answered: string } {
  const denoFindsIt = protocol !== undefined &&
    (offer ?? "").split(", ").includes(protocol);
  const { socket, response } = Deno.upgradeWebSocket(
    request,
    denoFindsIt ? { protocol, idleTimeout } : { idleTimeout },
  );
  if (protocol === undefined) return { socket, response, answered: "" };
  if (denoFindsIt) return { socket, response, answered: protocol };
  try {
    response.headers.set("sec-websocket-protocol", protocol);
  } catch {
    return { socket, response, answered: "" };
  }
  return { socket, response, answered: protocol };
}
