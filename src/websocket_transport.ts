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

/**
 * The events a transport takes from its socket, with the options it listens
 * with where it must: `once` for "open", as a listener left behind keeps its
 * record, its options and Deno's array for the type for the connection's
 * life.
 */
const SOCKET_EVENTS: readonly (readonly [string, AddEventListenerOptions?])[] =
  [["open", Object.freeze({ once: true })], ["message"], ["close"]];

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
  /** The events this transport listens for, as bits of {@linkcode eventBit}. */
  #listening = 0;

  /**
   * @param socket The socket, connecting or open; nothing else may listen
   *   to its messages. `undefined` when no connection is to be attempted (a
   *   client whose signal was already aborted): the transport is then never
   *   started, only terminated, which does nothing.
   * @param highWaterMark Sends resolve while `bufferedAmount` is at most this.
   * @param protocol A server socket's subprotocol, negotiated outside the
   *   socket (its `protocol` is always empty in Deno); never given for a
   *   client socket.
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

  /** A `WebSocket` cannot stop reading; see {@linkcode Transport.pausable}. */
  get pausable(): boolean {
    return false;
  }

  start(events: TransportEvents): void {
    const socket = this.#socket!;
    this.#events = events;
    socket.binaryType = "arraybuffer";
    (socket as RoutedSocket)[TRANSPORT] = this;
    socket.dispatchEvent = dispatchToTransport;
    // Events the runtime is known to dispatch through the socket's own
    // `dispatchEvent` come to the transport from there; for the others the
    // transport is the listener itself: no closures per connection.
    const routed = routedEvents.get(socket.constructor) ?? 0;
    for (const [type, options] of SOCKET_EVENTS) {
      const bit = eventBit(type, this.#side);
      if ((routed & bit) !== 0) continue;
      socket.addEventListener(type, this, options);
      this.#listening |= bit;
    }
    // A socket handed over by a framework may already be open or closed.
    if (socket.readyState === OPEN) {
      queueMicrotask(() => this.#onOpen());
    } else if (socket.readyState === CLOSED) {
      queueMicrotask(() =>
        events.onClose(null, "", "the socket was already closed", false)
      );
    }
  }

  /**
   * Takes an event the socket dispatches through its own `dispatchEvent`
   * (see {@linkcode dispatchToTransport}). Returns whether it was handled
   * here, so that no listener needs to see it.
   */
  takeDispatched(event: Event): boolean {
    const { type } = event;
    if (type === "error") {
      this.#noteFailure(event);
      return false;
    }
    const bit = eventBit(type, this.#side);
    if (bit === 0) return false;
    // Not listened for: learnt already, so taken here (Node's messages
    // come this way, one map lookup fewer each).
    if ((this.#listening & bit) === 0) {
      this.handleEvent(event);
      return true;
    }
    const socketClass = this.#socket!.constructor;
    routedEvents.set(socketClass, (routedEvents.get(socketClass) ?? 0) | bit);
    return false;
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
          // Deno's idle timeout gives its reason as the error's message too.
          this.#failure === reason ? "" : this.#failure,
          wasClean && !unsent,
        );
        return;
      }
    }
  }

  /** Which side of the connection the socket is; see the constructor. */
  get #side(): Side {
    return this.#protocol === undefined ? "client" : "server";
  }

  /** Takes the socket's "error" event, which alone says why it failed. */
  #noteFailure(event: Event): void {
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

/**
 * The key of a started socket's transport, for the events it sees; see
 * below. A property of the socket rather than an entry in a `WeakMap`: V8's
 * young-generation collections keep every entry of a `WeakMap` alive, so
 * each ended connection's transport, core and streams would be copied and
 * moved to the old generation, there to wait for a full collection.
 */
const TRANSPORT = Symbol("WebSocketTransport");

/** A socket a transport was started on. */
interface RoutedSocket extends WebSocket {
  [TRANSPORT]?: WebSocketTransport;
}

/**
 * A socket's `dispatchEvent`, handing its events to the transport on the
 * way. Deno and Node dispatch "open", "close" and "error" (Node "message"
 * too) through the socket's own `dispatchEvent`, and only their "error"
 * event says why a connection failed. Taking events here costs two
 * properties per socket, where a listener costs Deno a record, an
 * entry in its listener table and a dispatch through the event path. An
 * event the transport takes here reaches no listener: nobody else listens
 * to a socket the library made. Where a runtime dispatches otherwise, the
 * listeners take the events, and a failure is reported without its cause.
 */
function dispatchToTransport(this: RoutedSocket, event: Event): boolean {
  if (this[TRANSPORT]?.takeDispatched(event)) return true;
  return EventTarget.prototype.dispatchEvent.call(this, event);
}

/**
 * For each `WebSocket` class, the events it was seen to dispatch through
 * the socket's own `dispatchEvent`, as bits of {@linkcode eventBit}: later
 * sockets of the class listen for the others only. A class that dispatches
 * an event one way does so for every socket of the same side, as one piece
 * of its code does it; client and server sockets are learnt apart, as they
 * are opened by different code.
 */
const routedEvents = new WeakMap<object, number>();

/** Which side of the connection a socket is: their events are learnt apart. */
type Side = "client" | "server";

/** The bit of `type` on `side` in {@linkcode routedEvents}; 0 for other types. */
function eventBit(type: string, side: Side): number {
  const bit = type === "open"
    ? 1
    : type === "message"
    ? 2
    : type === "close"
    ? 4
    : 0;
  return side === "client" ? bit : bit << 3;
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
 * every object of a class, so they are looked up once, not at every close.
 */
const slotKeys = new Map<string, symbol>();

/**
 * One of the internal slots Deno keeps on its objects (`WebSocket`,
 * `Request`), found by the description of its symbol.
 */
export function denoSlot(object: object, name: string): unknown {
  let key = slotKeys.get(name);
  if (key === undefined || !Object.hasOwn(object, key)) {
    key = Object.getOwnPropertySymbols(object).find((symbol) =>
      symbol.description === name
    );
    if (key === undefined) return undefined;
    slotKeys.set(name, key);
  }
  return (object as Record<symbol, unknown>)[key];
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
