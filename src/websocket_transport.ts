/**
 * The {@linkcode Transport} over a web `WebSocket`: Deno's client, the socket
 * `Deno.upgradeWebSocket` returns, or any runtime's global `WebSocket`.
 *
 * @module
 */

import { DrainWaiter } from "./drain_waiter.ts";
import type { Message } from "./message.ts";
import type { Transport, TransportEvents } from "./transport.ts";

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/** Adapts a `WebSocket` to the {@linkcode Transport} interface. */
export class WebSocketTransport implements Transport {
  readonly #connect: () => WebSocket;
  readonly #highWaterMark: number;
  readonly #protocol: string | undefined;
  #socket: WebSocket | undefined;
  readonly #drain = new DrainWaiter();
  #failure = "";
  /** An upper bound of the socket's `bufferedAmount`. */
  #bufferedAtMost = 0;

  /**
   * @param connect Makes or hands over the socket, connecting or open, when
   *   the transport starts; nothing else may listen to its messages.
   * @param highWaterMark Sends resolve while `bufferedAmount` is at most this.
   * @param protocol The subprotocol, when it was negotiated outside the
   *   socket (a server socket's `protocol` is always empty in Deno).
   */
  constructor(
    connect: () => WebSocket,
    highWaterMark: number,
    protocol?: string,
  ) {
    this.#connect = connect;
    this.#highWaterMark = highWaterMark;
    this.#protocol = protocol;
  }

  start(events: TransportEvents): void {
    const socket = this.#connect();
    this.#socket = socket;
    socket.binaryType = "arraybuffer";
    const open = () =>
      events.open(this.#protocol ?? socket.protocol, socket.extensions);
    socket.addEventListener("open", open);
    socket.addEventListener("message", (event) => {
      const { data } = event;
      events.message(
        typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer),
      );
    });
    socket.addEventListener("error", (event) => {
      if (event instanceof ErrorEvent) this.#failure = event.message;
    });
    socket.addEventListener("close", (event) => {
      this.#drain.stop();
      // Browsers report a connection that ended without a Close frame as 1006;
      // Deno's error path reports code 0.
      const closeCode = event.code === 0 || event.code === 1006
        ? null
        : event.code;
      events.close(closeCode, event.reason, this.#failure, event.wasClean);
    });
    // A socket handed over by a framework may already be open or closed.
    if (socket.readyState === OPEN) {
      queueMicrotask(open);
    } else if (socket.readyState === CLOSED) {
      queueMicrotask(() =>
        events.close(null, "", "the socket was already closed", false)
      );
    }
  }

  send(message: Message): true | Promise<boolean> {
    const socket = this.#socket!;
    socket.send(message);
    // `bufferedAmount` costs a call into the runtime; while the last reading
    // plus everything sent since stays under the mark, there is room anyway.
    // (A string takes at most 3 UTF-8 bytes per UTF-16 code unit.)
    this.#bufferedAtMost += typeof message === "string"
      ? message.length * 3
      : message.byteLength;
    if (this.#bufferedAtMost <= this.#highWaterMark) return true;
    this.#bufferedAtMost = socket.bufferedAmount;
    if (this.#bufferedAtMost <= this.#highWaterMark) return true;
    return this.#drain.wait(socket, this.#highWaterMark).then((room) => {
      this.#bufferedAtMost = socket.bufferedAmount;
      return room;
    });
  }

  close(closeCode: number | undefined, reason: string): void {
    if (closeCode === undefined) this.#socket!.close();
    else this.#socket!.close(closeCode, reason);
  }

  terminate(): void {
    this.#drain.stop();
    const socket = this.#socket;
    if (socket === undefined) return;
    if (socket.readyState === CONNECTING || !dropDenoSocket(socket)) {
      socket.close();
    }
  }
}

interface DenoInternals {
  internal?: symbol;
  [key: symbol]: { core?: { tryClose?: (rid: number) => void } } | undefined;
}

/**
 * Deno's `WebSocket` has no way to give up on a peer that never answers our
 * Close: the socket would stay open for as long as the peer keeps TCP open.
 * Closing its resource ends it. This reaches into Deno's internals, so it is
 * feature-detected and skipped wherever they differ.
 */
function dropDenoSocket(socket: WebSocket): boolean {
  const deno = (globalThis as { Deno?: DenoInternals }).Deno;
  const internal = deno?.internal;
  const tryClose = internal === undefined
    ? undefined
    : deno?.[internal]?.core?.tryClose;
  const ridKey = Object.getOwnPropertySymbols(socket).find((symbol) =>
    symbol.description === "[[rid]]"
  );
  if (tryClose === undefined || ridKey === undefined) return false;
  const rid = (socket as unknown as Record<symbol, unknown>)[ridKey];
  if (typeof rid !== "number") return false;
  tryClose(rid);
  return true;
}
