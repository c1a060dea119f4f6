/**
 * The client transports every client case runs over, and the one place that
 * says where they are expected to differ and why. A case asks its transport
 * (`transport.pacesReads`, ...) instead of naming it, so a new transport is a
 * new row here, not an edit to every suite.
 *
 * A difference is listed only when it is a property of the transport that
 * users see and the documentation states. A case that fails because of a bug
 * is not a difference: it goes in {@linkcode KNOWN_BUGS}, which reports it as
 * ignored under a name that says so, until the bug is fixed.
 *
 * @module
 */

import { WebSocketStream, type WebSocketStreamOptions } from "../mod.ts";

/**
 * Who words the failures a stream reports: Deno (its `WebSocket` or
 * `Deno.upgradeWebSocket`, whose messages we pass on) or our own RFC 6455
 * code.
 */
export type Wording = "Deno" | "ours";

/** A client transport under test. */
export interface ClientTransport {
  /** The value of the `transport` option. */
  readonly name: "websocket" | "socket";
  /**
   * FLT-01, OPN-04: who words failure messages (a dropped connection, a
   * refused handshake): Deno's `WebSocket`, or the socket transport itself.
   */
  readonly wording: Wording;
  /**
   * BP-01: whether a reader that falls behind slows the peer down. Deno's
   * `WebSocket` reads everything the peer sends and offers no way to stop, so
   * over it a reader that falls behind overflows `receiveLimit` and the
   * connection closes with `overflowCloseCode` (4009 by default); the socket
   * transport stops reading TCP instead, and the peer waits.
   */
  readonly pacesReads: boolean;
  /**
   * CLD-05, FLT-06: the close a peer that drops TCP instead of answering our
   * Close gives. Deno's `WebSocket` reports it exactly like an empty Close
   * reply (a clean 1005); the socket transport sees the missing Close (an
   * unclean 1006).
   */
  readonly droppedAfterOurClose: "clean 1005" | "unclean 1006";
  /**
   * CLD-05, WR-11: the code an unclean close reports when the peer's Close
   * did arrive (a peer that closes and drops TCP during our large write).
   * Deno's `WebSocket` cannot send its Close reply while our frame is stuck,
   * fails the connection when TCP drops and does not report the code it
   * received, so it reports 1006; the socket transport reports the peer's
   * code, as the proposal asks.
   */
  readonly reportsPeerCodeWhenUnclean: boolean;
  /**
   * CLD-09: what becomes of messages that arrive after our Close. Deno's
   * `WebSocket` delivers them until its close event, so they are queued, and
   * a peer that sends past a share of `receiveLimit` is dropped; the socket
   * transport reads them and throws them away as they arrive, holding
   * nothing, so only `closeTimeout` bounds the wait.
   */
  readonly discardsAfterOurClose: boolean;
  /**
   * WR-13: a write whose frame is already on its way when we close or abort.
   * The socket transport finishes the frame (cutting one short would break
   * the protocol) and resolves the write once it is sent. Deno's `WebSocket`
   * cannot say when its bytes left, so a write it still buffers when we close
   * rejects with `InvalidStateError`.
   */
  readonly finishesFrameInFlight: boolean;
  /**
   * CTR-20: whether the transport offers permessage-deflate unless told not
   * to (`compression: false`). The socket transport compresses; Deno's
   * `WebSocket` offers no extension at all.
   */
  readonly offersCompression: boolean;
  /**
   * HSK-02: whether a 101 answer whose `Sec-WebSocket-Accept` does not match
   * the key is refused. Deno's `WebSocket` does not check it.
   */
  readonly checksAccept: boolean;
  /**
   * CLD-02, WR-11: whether a peer's Close that arrives while our message is
   * still being written always makes the close unclean. Deno's `WebSocket`
   * tells of the Close only once the message has gone out, which looks
   * exactly like a peer that read it all and then closed (BP-02), so over it
   * the outcome is a race; the socket transport sees the Close as it comes.
   */
  readonly seesCloseDuringWrite: boolean;
  /**
   * A stream connected over this transport: `options` plus the transport
   * option.
   */
  connect(
    url: string | URL,
    options?: WebSocketStreamOptions,
  ): WebSocketStream;
}

function transport(
  name: ClientTransport["name"],
  differences: Omit<ClientTransport, "name" | "connect">,
): ClientTransport {
  return {
    name,
    ...differences,
    connect: (url, options) =>
      new WebSocketStream(url, { ...options, transport: name }),
  };
}

/** Every client transport, the default first. */
export const TRANSPORTS: readonly ClientTransport[] = [
  transport("websocket", {
    wording: "Deno",
    pacesReads: false,
    droppedAfterOurClose: "clean 1005",
    reportsPeerCodeWhenUnclean: false,
    discardsAfterOurClose: false,
    finishesFrameInFlight: false,
    offersCompression: false,
    checksAccept: false,
    seesCloseDuringWrite: false,
  }),
  transport("socket", {
    wording: "ours",
    pacesReads: true,
    droppedAfterOurClose: "unclean 1006",
    reportsPeerCodeWhenUnclean: true,
    discardsAfterOurClose: true,
    finishesFrameInFlight: true,
    offersCompression: true,
    checksAccept: true,
    seesCloseDuringWrite: true,
  }),
];

/**
 * Cases that fail on a transport because of a bug, by test name (without the
 * transport suffix) and transport: what is wrong. Each is reported as ignored
 * under a "KNOWN BUG" name; remove the entry with the fix.
 */
export const KNOWN_BUGS: Readonly<
  Record<string, Partial<Record<ClientTransport["name"], string>>>
> = {};

/** Options of {@linkcode clientTest}. */
export interface ClientTestOptions {
  /** Passed on to `Deno.test`. */
  readonly sanitizeResources?: boolean;
  /** Passed on to `Deno.test`. */
  readonly sanitizeOps?: boolean;
}

/**
 * Registers the client case `name` once per transport in
 * {@linkcode TRANSPORTS}, as `name [transport]`.
 */
export function clientTest(
  name: string,
  fn: (transport: ClientTransport) => void | Promise<void>,
  options: ClientTestOptions = {},
): void {
  for (const transport of TRANSPORTS) {
    const bug = KNOWN_BUGS[name]?.[transport.name];
    Deno.test({
      ...options,
      name: bug === undefined
        ? `${name} [${transport.name}]`
        : `KNOWN BUG ${name} [${transport.name}]: ${bug}`,
      ignore: bug !== undefined,
      fn: () => fn(transport),
    });
  }
}
