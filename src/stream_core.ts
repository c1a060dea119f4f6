/**
 * The WebSocketStream state machine over a {@linkcode Transport}: the
 * promises, the two streams, the bounded receive queue and every way a
 * connection can end. It knows nothing of sockets, so the client, the server
 * role and future transports share it.
 *
 * @module
 */

import { type Role, validateCloseInfo } from "./close_code.ts";
import { closedWritableError } from "./closed_writable_error.ts";
import { LazyPromise } from "./lazy_promise.ts";
import { type Deadline, startDeadline } from "./shared_deadlines.ts";
import { chunkToMessage, type Message } from "./message.ts";
import {
  MESSAGE_OVERHEAD_BYTES,
  queuedSize,
  ReceiveQueue,
  StreamQueueSizes,
} from "./receive_queue.ts";
import type { Transport, TransportEvents } from "./transport.ts";
import {
  createWebSocketError,
  type WebSocketError,
  webSocketErrorCloseInfo,
} from "./websocket_error.ts";

/**
 * What `opened` resolves with.
 *
 * @example Using the opened connection
 * ```ts
 * import type { WebSocketOpenInfo } from "@streams/websocket";
 *
 * async function echo({ readable, writable }: WebSocketOpenInfo) {
 *   await readable.pipeTo(writable);
 * }
 * ```
 */
export interface WebSocketOpenInfo {
  /**
   * Incoming messages, one chunk per message: text as `string`, binary as
   * `Uint8Array`. It ends after a clean close; after an unclean one it first
   * yields every message that had arrived, then errors with the error that
   * rejects `closed`. `cancel(reason)` closes the connection, with the code
   * and reason of `reason` only when it is a `WebSocketError`.
   */
  readable: ReadableStream<string | Uint8Array>;
  /**
   * Outgoing messages: strings as text, any `BufferSource` (`ArrayBuffer`,
   * typed arrays, `DataView`) as binary, copied at write time; other values
   * are converted to strings, and resizable buffers or views on shared
   * memory are a `TypeError`. A rejected write errors the writable but
   * leaves the connection open for reading. `close()` closes without a code and
   * resolves after the closing handshake (it rejects if the close is
   * unclean). After a clean close writes reject with `InvalidStateError`,
   * after an unclean one with the error that rejects `closed`; a write still
   * waiting for room when the connection ends rejects with
   * `InvalidStateError`.
   */
  writable: WritableStream<unknown>;
  /** The extensions the server accepted, `""` when none. */
  extensions: string;
  /** The subprotocol the server selected, `""` when none. */
  protocol: string;
}

/**
 * What `closed` resolves with after a clean close.
 *
 * @example Logging how a connection ended
 * ```ts
 * import type { WebSocketClosedInfo } from "@streams/websocket";
 *
 * function log({ closeCode, reason }: WebSocketClosedInfo) {
 *   console.log(`closed with ${closeCode} ${reason}`);
 * }
 * ```
 */
export interface WebSocketClosedInfo {
  /** The code of the peer's Close frame; 1005 when it had none. */
  closeCode: number;
  /** The reason of the peer's Close frame, `""` when none. */
  reason: string;
}

/** The settings a stream core runs with, all already validated. */
export interface StreamCoreSettings {
  role: Role;
  /** Most bytes held for a reader that falls behind. */
  receiveLimit: number;
  /** Code sent to the peer when the receive queue overflows. */
  overflowCloseCode: number;
  /** How long to wait for the peer's answer to our Close, in ms. */
  closeTimeout: number;
  /**
   * Checks the server's answer to the opening handshake: returns why the
   * connection must fail, or `undefined` to accept it.
   */
  checkHandshake?: (protocol: string, extensions: string) => string | undefined;
}

type State = "connecting" | "open" | "closing" | "closed";

/** How a connection ended: what `closed` resolves or rejects with. */
type Ending =
  | { clean: true; info: WebSocketClosedInfo }
  | { clean: false; error: unknown };

/**
 * The readable asks for more only when a read waits on it: with room in the
 * stream, it would ask after every message as well as at every read. Over a
 * transport that can pause, a message goes into the stream only when a read
 * waits for it, and the one message the standard's stream would hold is held
 * by the core (see `#held`): each read comes to the core, which resumes the
 * transport once the reader has caught up. Over one that cannot, messages go
 * into the stream as they arrive, so a read that finds one waiting costs no
 * pull; the oldest stays outside the receive limit all the same.
 */
const READABLE_HIGH_WATER_MARK = 0;

/**
 * The readable's queuing strategy, shared: the stream only reads it. Its
 * `desiredSize` is minus the number of messages its queue holds.
 */
const READABLE_STRATEGY = Object.freeze({
  highWaterMark: READABLE_HIGH_WATER_MARK,
});

/**
 * How far a transport that can pause reads ahead of the reader (at most
 * `receiveLimit`): enough that a peer's Close behind a few messages is seen
 * when nobody reads, as the standard asks of `closed`. Reading resumes once
 * the reader has taken half of it.
 */
const READ_AHEAD_BYTES = 64 * 1024;

/**
 * What a peer may still send after our Close, as shares of the receive limit
 * with floors so that small limits still let in-flight data land. Dropped
 * messages are garbage all the same, so this bounds what a flood costs. Past
 * `giveUp` we stop waiting for the peer's Close; past `cutOff` we drop the
 * connection at once.
 */
const AFTER_CLOSE = {
  giveUp: { share: 1 / 8, atLeast: 512 * 1024 },
  cutOff: { share: 1 / 2, atLeast: 1024 * 1024 },
};

/** `share` of `limit`, but at least `atLeast`, in whole bytes. */
function shareOf(
  limit: number,
  { share, atLeast }: { share: number; atLeast: number },
): number {
  return Math.max(Math.floor(limit * share), atLeast);
}

/** Why a peer that kept sending after our Close was dropped. */
function afterCloseFailure(bytes: number): string {
  return `the peer sent more than ${bytes} bytes of messages after our Close (each message counts ${MESSAGE_OVERHEAD_BYTES} bytes more)`;
}

/** The reason sent with {@linkcode StreamCoreSettings.overflowCloseCode}. */
const OVERFLOW_REASON = "Receive queue limit exceeded";

// The yes-or-no parts of a core's state, as bits of one field.
/** The readable is closed, errored or cancelled: nothing more goes in. */
const READABLE_DONE = 1;
/** A read waits that nothing was held for: hand the next message straight over. */
const READ_PENDING = 2;
/** The transport was told there is no room and awaits `resume()`. */
const TRANSPORT_PAUSED = 4;
/** A write waits for room, or was not sent because the connection ended. */
const WRITE_IN_PROGRESS = 8;
/** `close()` came while connecting: the handshake is abandoned. */
const CLOSED_WHILE_CONNECTING = 16;

const CLOSED_WHILE_CONNECTING_MESSAGE =
  "WebSocketStream was closed before the connection was established";

/**
 * What only a connection that closes, overflows or ends needs, kept apart so
 * that an idle connection does not carry it.
 */
interface EndingState {
  /** The closing handshake's timeout; see {@linkcode StreamCoreSettings.closeTimeout}. */
  closeDeadline: Deadline | undefined;
  /** The drop after a flood following our Close; see `#discard`. */
  discardTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bytes of messages dropped since our Close; see {@linkcode AFTER_CLOSE}. */
  discarded: number;
  /** A server's close() called before the socket opened. */
  pendingClose: { closeCode: number | undefined; reason: string } | undefined;
  overflowError: WebSocketError | undefined;
  /** Set once nothing more will be queued: `null` to close, else the error. */
  readableEnd: WebSocketError | null | undefined;
  writableError: unknown;
}

/** One WebSocketStream's state, driven by its transport and its user. */
export class StreamCore
  implements
    TransportEvents,
    UnderlyingDefaultSource<Message>,
    UnderlyingSink<unknown> {
  /** Replaced by its promise once settled: an open connection needs no more. */
  #opened: LazyPromise<WebSocketOpenInfo> | Promise<WebSocketOpenInfo> =
    new LazyPromise();
  /** Made when `closed` is first read or the connection ends. */
  #closed: LazyPromise<WebSocketClosedInfo> | undefined;

  readonly #transport: Transport;
  readonly #settings: Readonly<StreamCoreSettings>;
  #state: State = "connecting";
  /** Bits such as {@linkcode READ_PENDING}. */
  #flags = 0;
  /** Made once the connection starts to end: see {@linkcode EndingState}. */
  #ending: EndingState | undefined;

  /**
   * Over a transport that can pause: made when a second message waits for
   * the reader, as most connections are read as fast as messages arrive.
   */
  #queue: ReceiveQueue | undefined;
  #readableController: ReadableStreamDefaultController<Message> | undefined;
  /**
   * Over a transport that cannot pause: what the messages in the readable's
   * own queue count. Made when a message first waits behind another, and
   * dropped once the readable is empty again, so that a connection that
   * falls silent after a burst does not keep it.
   */
  #streamQueueSizes: StreamQueueSizes | undefined;
  /** Ends the pull in progress; see `pull()`. */
  #endPull: (() => void) | undefined;
  /**
   * Over a transport that can pause: the oldest message not yet read, which
   * the standard's stream would hold itself (its high-water mark is one
   * message), outside the receive limit.
   */
  #held: Message | undefined;

  #writableController: WritableStreamDefaultController | undefined;

  constructor(transport: Transport, settings: Readonly<StreamCoreSettings>) {
    this.#transport = transport;
    this.#settings = settings;
  }

  /** See `WebSocketStream.opened`. */
  get opened(): Promise<WebSocketOpenInfo> {
    const opened = this.#opened;
    return opened instanceof Promise ? opened : opened.promise;
  }

  /**
   * Fulfils `opened` with `info`, or rejects it with `error` when there is
   * no `info`, then keeps only its promise. (No callback: a closure per
   * connection would be made only to be called once.)
   */
  #settleOpened(info: WebSocketOpenInfo | undefined, error?: unknown): void {
    const opened = this.#opened;
    if (opened instanceof Promise) return;
    if (info !== undefined) opened.resolve(info);
    else opened.reject(error);
    this.#opened = opened.promise;
  }

  #is(flag: number): boolean {
    return (this.#flags & flag) !== 0;
  }

  #set(flag: number, on: boolean): void {
    this.#flags = on ? this.#flags | flag : this.#flags & ~flag;
  }

  /** The rarely used state, made when first needed. */
  #end(): EndingState {
    return this.#ending ??= {
      closeDeadline: undefined,
      discardTimer: undefined,
      discarded: 0,
      pendingClose: undefined,
      overflowError: undefined,
      readableEnd: undefined,
      writableError: undefined,
    };
  }

  /** See {@linkcode READ_AHEAD_BYTES}. */
  #readAhead(): number {
    return Math.min(READ_AHEAD_BYTES, this.#settings.receiveLimit);
  }

  /** See `WebSocketStream.closed`. */
  get closed(): Promise<WebSocketClosedInfo> {
    return (this.#closed ??= new LazyPromise()).promise;
  }

  /** Which end of the connection this is. */
  get role(): Role {
    return this.#settings.role;
  }

  // The core is the readable's source and the writable's sink itself, not
  // object literals of arrow functions nor an object of its own, so that a
  // connection carries no closures and no extra object.

  /** See `UnderlyingSource.start` and `UnderlyingSink.start`. */
  start(
    controller:
      | ReadableStreamDefaultController<Message>
      | WritableStreamDefaultController,
  ): void {
    if (controller instanceof ReadableStreamDefaultController) {
      this.#readableController = controller;
    } else {
      this.#writableController = controller;
    }
  }

  /**
   * See `UnderlyingSource.pull`: a read waits on an empty readable. Over a
   * transport that cannot pause, messages go into the stream by themselves:
   * only the readable's end is left to the core. A client's pull then does
   * not end until that end comes: the stream makes no new pull while one is
   * in progress, so a read that waits for a message costs none either. (The
   * pull in progress holds a few promises; a server, with its many idle
   * connections, lets each pull end instead.)
   */
  pull(): Promise<void> | undefined {
    const { pausable } = this.#transport;
    // A read waits, so the readable holds nothing: nothing is left to count.
    this.#streamQueueSizes = undefined;
    if (
      pausable || this.#settings.role === "server" ||
      this.#ending?.readableEnd !== undefined
    ) {
      this.#flushReadable(pausable);
      return undefined;
    }
    return new Promise((resolve) => {
      this.#endPull = resolve;
    });
  }

  /** Ends a pull in progress (see `pull()`), so the next read comes here. */
  #pullAgain(): void {
    const endPull = this.#endPull;
    if (endPull === undefined) return;
    this.#endPull = undefined;
    endPull();
  }

  /** See `UnderlyingSource.cancel`. */
  cancel(reason: unknown): void {
    this.#set(READABLE_DONE, true);
    this.#held = undefined;
    this.#queue?.clear();
    this.#streamQueueSizes = undefined;
    this.#endPull = undefined;
    this.#closeUsingReason(reason);
  }

  /** See `UnderlyingSink.write`. */
  write(chunk: unknown): Promise<void> | undefined {
    return this.#write(chunk);
  }

  /** See `UnderlyingSink.close`: closes, then waits for the handshake. */
  async close(): Promise<void> {
    this.startClosing(undefined, "");
    await this.closed;
  }

  /** See `UnderlyingSink.abort`. */
  abort(reason: unknown): void {
    this.#closeUsingReason(reason);
  }

  /** Starts the transport; see {@linkcode Transport.start}. */
  startTransport(): void {
    // The core takes the transport's events itself: no closures per connection.
    this.#transport.start(this);
  }

  /** Starts the closing handshake with an already validated code and reason. */
  startClosing(closeCode: number | undefined, reason: string): void {
    switch (this.#state) {
      case "connecting":
        if (this.#settings.role === "server") {
          // A server cannot take back its 101 response: close once open.
          this.#end().pendingClose = { closeCode, reason };
          return;
        }
        if (this.#is(CLOSED_WHILE_CONNECTING)) return;
        this.#set(CLOSED_WHILE_CONNECTING, true);
        this.#transport.terminate();
        // The standard rejects the promises once the connection is closed,
        // in a task of its own, not during close(): an abort before then
        // still rejects them with its reason.
        setTimeout(() => this.#failHandshake(), 0);
        return;
      case "open":
        this.#state = "closing";
        this.#transport.close(closeCode, reason);
        // Messages are dropped from now on: read on, to find the peer's Close.
        this.#resumeTransport();
        this.#end().closeDeadline = startDeadline(
          this.#settings.closeTimeout,
          () =>
            this.#giveUpClosing(
              `the peer did not answer the closing handshake within ${this.#settings.closeTimeout} ms`,
            ),
        );
        return;
      default:
        return;
    }
  }

  /** Gives up on a handshake in progress, rejecting both promises with `reason`. */
  abortHandshake(reason: unknown): void {
    if (this.#state !== "connecting") return;
    this.#transport.terminate();
    this.#finish({ clean: false, error: reason }, reason);
  }

  /** See {@linkcode TransportEvents.onOpen}. */
  onOpen(protocol: string, extensions: string): void {
    if (
      this.#state !== "connecting" || this.#is(CLOSED_WHILE_CONNECTING)
    ) return;
    const mismatch = this.#settings.checkHandshake?.(protocol, extensions);
    if (mismatch !== undefined) {
      this.#transport.terminate();
      this.#failHandshake(`WebSocket handshake failed: ${mismatch}`);
      return;
    }
    this.#state = "open";
    const readable = new ReadableStream<Message>(this, READABLE_STRATEGY);
    // No strategy: the default's high-water mark of one write is ours, and
    // a strategy given costs Deno a dictionary conversion per stream.
    const writable = new WritableStream<unknown>(this);
    // WebIDL's dictionary order, which Object.keys() shows.
    this.#settleOpened({ extensions, protocol, readable, writable });
    const pendingClose = this.#ending?.pendingClose;
    if (pendingClose !== undefined) {
      this.startClosing(pendingClose.closeCode, pendingClose.reason);
    }
  }

  /**
   * See {@linkcode TransportEvents.onMessage}. A transport that can pause
   * never overflows the queue: it is paused once the queue holds its read
   * ahead, so the queue holds less than that plus one message, and the
   * transport itself refuses a message longer than the limit.
   */
  onMessage(message: Message): boolean {
    if (this.#state === "closing") {
      this.#discard(message);
      return true;
    }
    if (this.#state !== "open" || this.#is(READABLE_DONE)) return true;
    const controller = this.#readableController!;
    if (!this.#transport.pausable) {
      this.#enqueue(controller, message);
      return true;
    }
    if (this.#is(READ_PENDING)) {
      this.#set(READ_PENDING, false);
      controller.enqueue(message);
      return true;
    }
    if (this.#held === undefined) {
      this.#held = message;
      return true;
    }
    // Bounded by pausing the transport, so that a slow reader never
    // overflows.
    const queue = this.#queue ??= new ReceiveQueue();
    queue.push(message);
    if (queue.bytes < this.#readAhead()) return true;
    this.#set(TRANSPORT_PAUSED, true);
    return false;
  }

  /**
   * Puts `message` into the readable, over a transport that cannot pause,
   * unless the messages behind the oldest would then exceed the limit.
   */
  #enqueue(
    controller: ReadableStreamDefaultController<Message>,
    message: Message,
  ): void {
    const queued = -controller.desiredSize!;
    if (queued > 0) {
      let sizes = this.#streamQueueSizes;
      if (sizes === undefined) {
        sizes = this.#streamQueueSizes = new StreamQueueSizes();
        // The read that empties the readable must come to pull() again,
        // which drops the sizes: end a client's pull in progress.
        this.#pullAgain();
      }
      const size = queuedSize(message);
      if (sizes.behindOldest(queued) + size > this.#settings.receiveLimit) {
        this.#onOverflow("the reader fell behind");
        return;
      }
      sizes.enteredBehind(size);
    } else {
      this.#streamQueueSizes = undefined;
    }
    controller.enqueue(message);
  }

  /** See {@linkcode TransportEvents.onOverflow}. */
  onOverflow(): void {
    if (this.#state === "open" && !this.#is(READABLE_DONE)) {
      this.#onOverflow("a single message was longer than that");
    }
  }

  #resumeTransport(): void {
    if (!this.#is(TRANSPORT_PAUSED)) return;
    this.#set(TRANSPORT_PAUSED, false);
    this.#transport.resume?.();
  }

  /** @param cause Why the limit was exceeded, for the error's message. */
  #onOverflow(cause: string): void {
    const { receiveLimit, overflowCloseCode } = this.#settings;
    const overflowError = createWebSocketError(
      `WebSocketStream receive queue limit of ${receiveLimit} bytes exceeded: ${cause}, so the connection was closed with code ${overflowCloseCode} and later messages were dropped`,
      overflowCloseCode,
      OVERFLOW_REASON,
    );
    // Messages already queued are still read; the error follows them.
    const ending = this.#end();
    ending.overflowError = overflowError;
    ending.readableEnd = overflowError;
    // Once the reader has taken what the readable holds, the error follows.
    this.#pullAgain();
    this.#writableController!.error(overflowError);
    this.startClosing(overflowCloseCode, OVERFLOW_REASON);
  }

  /**
   * Messages that arrive after our Close are dropped, as the standard says. A
   * peer that goes on sending is not stopping: give up on its answer rather
   * than churn through its data until `closeTimeout`. Our Close frame is
   * written on an event-loop turn after `close()`, and dropping the
   * connection before then would lose it, so the drop waits for two timer
   * turns: the first may run before that turn's writes, the second cannot.
   * A peer faster than we are can hold those turns off, as data that is
   * always ready keeps the event loop busy; past the cut-off we drop at once
   * to bound the garbage, even though the peer may not get our Close then.
   * (Nor does it if our own unsent data is ahead of the Close.)
   */
  #discard(message: Message): void {
    const { receiveLimit } = this.#settings;
    const ending = this.#end();
    const before = ending.discarded;
    ending.discarded += queuedSize(message);
    const giveUp = shareOf(receiveLimit, AFTER_CLOSE.giveUp);
    const cutOff = shareOf(receiveLimit, AFTER_CLOSE.cutOff);
    if (ending.discarded > cutOff) {
      this.#giveUpClosing(afterCloseFailure(cutOff));
    } else if (before <= giveUp && ending.discarded > giveUp) {
      ending.closeDeadline?.cancel();
      ending.discardTimer = setTimeout(() => {
        ending.discardTimer = setTimeout(
          () => this.#giveUpClosing(afterCloseFailure(giveUp)),
          0,
        );
      }, 0);
    }
  }

  /** Drops a connection whose closing handshake is not going to complete. */
  #giveUpClosing(failure: string): void {
    this.#transport.terminate();
    this.onClose(null, "", failure, false);
  }

  /** See {@linkcode TransportEvents.onClose}. */
  onClose(
    closeCode: number | null,
    reason: string,
    failure: string,
    wasClean: boolean,
  ): void {
    if (this.#state === "closed") return;
    if (this.#state === "connecting") {
      this.#failHandshake(
        failure === "" ? "WebSocket connection failed" : failure,
      );
      return;
    }
    const error = this.#uncleanError(closeCode, reason, failure, wasClean);
    // A write cut short rejects with InvalidStateError, as after a clean
    // close; otherwise the writable shares the connection's error.
    const writeInProgress = this.#is(WRITE_IN_PROGRESS);
    const ending = this.#end();
    ending.writableError = error !== undefined && !writeInProgress
      ? error
      : writeInProgress
      ? new DOMException(
        "The connection closed before the message was sent",
        "InvalidStateError",
      )
      : closedWritableError();
    ending.readableEnd = error ?? null;
    this.#finish(
      error === undefined
        ? { clean: true, info: { closeCode: closeCode!, reason } }
        : { clean: false, error },
    );
  }

  /**
   * The error an unclean close reports, or `undefined` for a clean one: the
   * Close frames were exchanged, the handshake completed and no write was
   * still in progress.
   */
  #uncleanError(
    closeCode: number | null,
    reason: string,
    failure: string,
    wasClean: boolean,
  ): WebSocketError | undefined {
    const overflowError = this.#ending?.overflowError;
    if (overflowError !== undefined) return overflowError;
    if (closeCode === null) {
      // With no reason from the transport, say what is known: a Deno server
      // socket, for one, drops the connection at the next message after our
      // Close.
      const why = failure !== ""
        ? failure
        : this.#state === "closing"
        ? "the connection ended after our Close frame, before the peer's Close arrived"
        : "";
      return createWebSocketError(
        `WebSocket connection closed abnormally (1006)${
          why === "" ? "" : `: ${why}`
        }`,
        1006,
      );
    }
    if (!wasClean) {
      return createWebSocketError(
        `WebSocket connection closed uncleanly with code ${closeCode}${
          reason === "" ? "" : `: ${reason}`
        }${failure === "" ? "" : ` (${failure})`}`,
        closeCode,
        reason,
      );
    }
    if (this.#is(WRITE_IN_PROGRESS)) {
      return createWebSocketError(
        `WebSocket connection closed with code ${closeCode} while a message was still being sent`,
        closeCode,
        reason,
      );
    }
    return undefined;
  }

  /**
   * The handshake failed, unless it ended already: `opened` rejects with a
   * WebSocketError saying `why`, `closed` with one carrying 1006. After
   * `close()` the reason is the close, whatever the transport said.
   */
  #failHandshake(why = CLOSED_WHILE_CONNECTING_MESSAGE): void {
    if (this.#state !== "connecting") return;
    const message = this.#is(CLOSED_WHILE_CONNECTING)
      ? CLOSED_WHILE_CONNECTING_MESSAGE
      : why;
    this.#finish(
      { clean: false, error: createWebSocketError(message, 1006) },
      createWebSocketError(message, null),
    );
  }

  /**
   * Ends the connection's life: settles the promises still pending and ends
   * both streams. The only place the state becomes "closed".
   *
   * @param openedError What `opened` rejects with if it is still pending.
   */
  #finish(ending: Ending, openedError?: unknown): void {
    const wasConnecting = this.#state === "connecting";
    this.#state = "closed";
    const late = this.#end();
    late.closeDeadline?.cancel();
    if (late.discardTimer !== undefined) clearTimeout(late.discardTimer);
    if (wasConnecting) {
      this.#settleOpened(undefined, openedError);
    }
    // The standard's order: the readable ends, then the writable, then
    // `closed` settles, so their reactions run in that order too.
    this.#flushReadable();
    this.#writableController?.error(late.writableError);
    // `in` narrows under users' `strictNullChecks: false` too; `clean` does not.
    const closed = this.#closed ??= new LazyPromise();
    if ("info" in ending) closed.resolve(ending.info);
    else closed.reject(ending.error);
  }

  /** @param pulled Whether a read waits (the stream's pull). */
  #flushReadable(pulled = false): void {
    const controller = this.#readableController;
    if (controller === undefined || this.#is(READABLE_DONE)) return;
    if (pulled) {
      const held = this.#held;
      if (held === undefined) {
        this.#set(READ_PENDING, true);
      } else {
        this.#held = this.#queue?.shift();
        controller.enqueue(held);
      }
    }
    if (
      this.#is(TRANSPORT_PAUSED) &&
      (this.#queue?.bytes ?? 0) <= this.#readAhead() / 2
    ) {
      this.#resumeTransport();
    }
    const readableEnd = this.#ending?.readableEnd;
    if (this.#held !== undefined || readableEnd === undefined) return;
    this.#pullAgain();
    if (readableEnd === null) {
      this.#set(READABLE_DONE, true);
      controller.close();
    } else if (controller.desiredSize === READABLE_HIGH_WATER_MARK) {
      // Erroring discards chunks still in the stream's own queue, so wait
      // until the reader has taken them; the next pull comes back here.
      this.#set(READABLE_DONE, true);
      controller.error(readableEnd);
    }
  }

  /** Resolves at once while the transport has room: no promise to settle. */
  #write(chunk: unknown): Promise<void> | undefined {
    const message = chunkToMessage(chunk);
    if (this.#state !== "open") throw this.#notWritable();
    const room = this.#transport.send(message);
    return room === true ? undefined : this.#waitForRoom(room);
  }

  async #waitForRoom(room: Promise<boolean>): Promise<void> {
    this.#set(WRITE_IN_PROGRESS, true);
    // abort() waits for the write in flight, which may wait for a peer that
    // never reads: start closing at once so that the write ends. Listening
    // only while a write waits keeps idle connections small.
    const { signal } = this.#writableController!;
    const onAbort = () => this.#closeUsingReason(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    let sent = false;
    try {
      sent = await room;
    } finally {
      // A message the connection ended in front of, not our own close(),
      // was never sent: it keeps counting as in progress, so the close that
      // follows is not clean (CLD-02).
      if (sent || this.#state !== "open") {
        this.#set(WRITE_IN_PROGRESS, false);
      }
      signal.removeEventListener("abort", onAbort);
    }
    if (!sent) throw this.#notWritable();
  }

  /** Why a write cannot be sent: the connection is closing or closed. */
  #notWritable(): unknown {
    return this.#ending?.writableError ?? new DOMException(
      "The WebSocketStream is closing: the message was not sent",
      "InvalidStateError",
    );
  }

  /** The standard's "close using reason", for `cancel()` and `abort()`. */
  #closeUsingReason(reason: unknown): void {
    const info = webSocketErrorCloseInfo(reason);
    if (info !== undefined) {
      try {
        const valid = validateCloseInfo(
          info.closeCode ?? undefined,
          info.reason,
          this.#settings.role,
          "Cannot close WebSocketStream",
        );
        this.startClosing(valid.closeCode, valid.reason);
        return;
      } catch {
        // A code this role may not send: fall back to a plain close.
      }
    }
    this.startClosing(undefined, "");
  }
}
