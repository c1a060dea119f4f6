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

/** Listener options shared by every connection. */
const ONCE: AddEventListenerOptions = Object.freeze({ once: true });

/** Adapts a `WebSocket` to the {@linkcode Transport} interface. */
export class WebSocketTransport implements Transport {
  /** `undefined` for a connection never attempted: see the constructor. */
  readonly #socket: WebSocket | undefined;
  readonly #highWaterMark: number;
  readonly #protocol: string | undefined;
  #events: TransportEvents | undefined;
  /** Made by the first send that must wait: most connections never do. */
  #drain: DrainWaiter | undefined;
  #failure = "";
  /** An upper bound of the socket's `bufferedAmount`. */
  #bufferedAtMost = 0;

  /**
   * @param socket The socket, connecting or open; nothing else may listen
   *   to its messages. `undefined` when no connection is to be attempted (a
   *   client whose signal was already aborted): the transport is then never
   *   started, only terminated, which does nothing.
   * @param highWaterMark Sends resolve while `bufferedAmount` is at most this.
   * @param protocol The subprotocol, when it was negotiated outside the
   *   socket (a server socket's `protocol` is always empty in Deno).
   */
  constructor(
    socket: WebSocket | undefined,
    highWaterMark: number,
    protocol?: string,
  ) {
    this.#socket = socket;
    this.#highWaterMark = highWaterMark;
    this.#protocol = protocol;
  }

  start(events: TransportEvents): void {
    const socket = this.#socket!;
    this.#events = events;
    socket.binaryType = "arraybuffer";
    // The transport is the listener itself: no closures per connection.
    // `once` for "open": a listener left behind keeps its record, its
    // options and Deno's array for the type for the connection's life.
    socket.addEventListener("open", this, ONCE);
    socket.addEventListener("message", this);
    socket.addEventListener("close", this);
    transports.set(socket, this);
    socket.dispatchEvent = dispatchNotingFailure;
    // A socket handed over by a framework may already be open or closed.
    if (socket.readyState === OPEN) {
      queueMicrotask(() => this.#onOpen());
    } else if (socket.readyState === CLOSED) {
      queueMicrotask(() =>
        events.onClose(null, "", "the socket was already closed", false)
      );
    }
  }

  /** Receives the socket's events; see `EventListenerObject`. */
  handleEvent(event: Event): void {
    switch (event.type) {
      case "open":
        this.#onOpen();
        return;
      case "message": {
        const { data } = event as MessageEvent;
        this.#events!.onMessage(
          typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer),
        );
        return;
      }
      case "close": {
        const { code, reason, wasClean } = event as CloseEvent;
        this.#drain?.stop();
        // Browsers report a connection that ended without a Close frame as
        // 1006; Deno's error path reports code 0.
        const closeCode = code === 0 || code === 1006 ? null : code;
        cancelDenoIdleTimer(this.#socket!);
        // Bytes still buffered were never sent: the peer closed in front of
        // them, which is not a clean close whatever the socket says.
        const unsent = this.#socket!.bufferedAmount > 0;
        this.#events!.onClose(
          closeCode,
          reason,
          this.#failure,
          wasClean && !unsent,
        );
        return;
      }
    }
  }

  /** Takes the socket's "error" event; see {@linkcode dispatchNotingFailure}. */
  noteFailure(event: Event): void {
    // Read as a field, not by `instanceof`: Node 22's WebSocket makes
    // ErrorEvents that are not a global class.
    const { message } = event as Partial<ErrorEvent>;
    if (typeof message === "string") this.#failure = message;
    // Node 22's WebSocket fails a connection attempt with "error" alone: it
    // stays CONNECTING and no "close" follows, so the attempt ends here. (A
    // "close" that comes after all finds the connection over already.)
    if (this.#socket!.readyState === CONNECTING) {
      queueMicrotask(() =>
        this.#events!.onClose(null, "", this.#failure, false)
      );
    }
  }

  #onOpen(): void {
    const socket = this.#socket!;
    this.#events!.onOpen(this.#protocol ?? socket.protocol, socket.extensions);
  }

  send(message: Message): true | Promise<boolean> {
    const socket = this.#socket!;
    // Deno's socket drops messages without a word once the peer's Close has
    // arrived, before its close event: report them as not sent.
    if (socket.readyState !== OPEN) return Promise.resolve(false);
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
    this.#drain ??= new DrainWaiter();
    return this.#drain.wait(socket, this.#highWaterMark).then((room) => {
      this.#bufferedAtMost = socket.bufferedAmount;
      return room;
    });
  }

  close(closeCode: number | undefined, reason: string): void {
    // Without a reason Deno skips encoding one to measure it.
    if (closeCode === undefined) this.#socket!.close();
    else if (reason === "") this.#socket!.close(closeCode);
    else this.#socket!.close(closeCode, reason);
  }

  terminate(): void {
    this.#drain?.stop();
    const socket = this.#socket;
    if (socket === undefined) return;
    if (socket.readyState === CONNECTING || !dropDenoSocket(socket)) {
      socket.close();
    }
  }
}

/** Each started socket's transport, for the events it sees; see below. */
const transports = new WeakMap<WebSocket, WebSocketTransport>();

/**
 * A socket's `dispatchEvent`, handing its "error" event to the transport on
 * the way. Only an `ErrorEvent` says why a connection failed (Deno's and
 * Node's do, a browser's plain "error" event does not), and Deno and Node
 * dispatch it through the socket's own `dispatchEvent`. Listening for
 * "error" instead would cost every idle connection a listener record and a
 * fourth event type in Deno's listener table; this costs one property and
 * one map entry. Where a runtime dispatches otherwise, a failure is
 * reported without its cause.
 */
function dispatchNotingFailure(this: WebSocket, event: Event): boolean {
  if (event.type === "error") transports.get(this)?.noteFailure(event);
  return EventTarget.prototype.dispatchEvent.call(this, event);
}

/** The parts of Deno's internal `core` this file uses. */
interface DenoCore {
  tryClose?: (rid: number) => void;
  cancelTimer?: (timer: unknown) => void;
}

interface DenoInternals {
  internal?: symbol;
  [key: symbol]: { core?: DenoCore } | undefined;
}

/** Deno's internal `core`, where this runtime is Deno and exposes it. */
function denoCore(): DenoCore | undefined {
  const deno = (globalThis as { Deno?: DenoInternals }).Deno;
  const internal = deno?.internal;
  return internal === undefined ? undefined : deno?.[internal]?.core;
}

/**
 * The keys of Deno's internal slots, by description: the same symbols on
 * every `WebSocket`, so they are looked up once, not at every close.
 */
const slotKeys = new Map<string, symbol>();

/** One of the internal slots Deno keeps on its `WebSocket` objects. */
function denoSlot(socket: WebSocket, name: string): unknown {
  let key = slotKeys.get(name);
  if (key === undefined || !Object.hasOwn(socket, key)) {
    key = Object.getOwnPropertySymbols(socket).find((symbol) =>
      symbol.description === name
    );
    if (key === undefined) return undefined;
    slotKeys.set(name, key);
  }
  return (socket as unknown as Record<symbol, unknown>)[key];
}

/**
 * Deno's `WebSocket` has no way to give up on a peer that never answers our
 * Close: the socket would stay open for as long as the peer keeps TCP open.
 * Closing its resource ends it. This reaches into Deno's internals, so it is
 * feature-detected and skipped wherever they differ.
 */
function dropDenoSocket(socket: WebSocket): boolean {
  const tryClose = denoCore()?.tryClose;
  const rid = denoSlot(socket, "[[rid]]");
  if (tryClose === undefined || typeof rid !== "number") return false;
  tryClose(rid);
  return true;
}

/**
 * Deno's server `WebSocket` arms its idle-timeout ping as an internal timer
 * and, when the connection ends, clears it with `clearTimeout`, which does
 * not cancel such timers: the process lives on for half the `idleTimeout`
 * after a connection ended, so a script or `server.shutdown()` that is done
 * cannot end. The socket is closed by then, so the timer has nothing left to
 * do. Feature-detected like {@linkcode dropDenoSocket}.
 */
function cancelDenoIdleTimer(socket: WebSocket): void {
  const timer = denoSlot(socket, "[[idleTimeoutTimeout]]");
  if (timer === undefined || timer === null) return;
  denoCore()?.cancelTimer?.(timer);
}
