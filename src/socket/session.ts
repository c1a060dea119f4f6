/**
 * One WebSocket connection over a {@linkcode ByteConnection}, in either role:
 * it wires a {@linkcode FrameReader} and a {@linkcode FrameWriter} to the
 * stream core as a {@linkcode Transport}. It reads only while the receiver
 * has room, so a slow reader slows the peer down through TCP instead of
 * filling memory, and it learns that a write has left from the write itself.
 * How the connection is opened (dialled by a client, handed over by a
 * server) is the opener's business.
 *
 * @module
 */

import type { Role } from "../close_code.ts";
import { describeError } from "../describe_error.ts";
import type { Message } from "../message.ts";
import type { Transport, TransportEvents } from "../transport.ts";
import type { ByteConnection } from "./byte_connection.ts";
import { peerName } from "./frame.ts";
import type { FrameEvent, FrameReader } from "./frame_reader.ts";
import { FrameWriter } from "./frame_writer.ts";
import type { DeflateCodec } from "./permessage_deflate_codec.ts";
import { ProtocolError } from "./protocol_error.ts";
import { type Deadline, startDeadline } from "../shared_deadlines.ts";

/** How a session ended, as {@linkcode TransportEvents.onClose} takes it. */
type Outcome = Parameters<TransportEvents["onClose"]>;

/** An end without a closing handshake: 1006, for `failure`. */
function abnormal(failure: string): Outcome {
  return [null, "", failure, false];
}

/** For a frame event after which the session reads on. */
function readOn(): undefined {
  return undefined;
}

/**
 * How long the last frames (our Close) may take to leave, and then how long
 * a server may take to close TCP, before we hang up.
 */
const CLOSING_GRACE_MS = 1000;

/** The reason of the 1001 sent when keepalive gets no answer, as Deno's. */
const IDLE_REASON = "No response from ping frame.";

/** A connection the opener has set up, handshake done. */
export interface OpenedConnection {
  connection: ByteConnection;
  /** The reader, holding whatever followed the handshake. */
  reader: FrameReader;
  protocol: string;
  extensions: string;
  /**
   * The permessage-deflate codec when the handshake agreed on it, already
   * given to `reader`; closed when the connection ends.
   */
  compression?: DeflateCodec | undefined;
}

/** Opens the connection; may throw, and must give up when `signal` aborts. */
export type Opener = (
  signal: AbortSignal,
) => Promise<OpenedConnection | { failure: string }>;

/** How a session runs. */
export interface SessionSettings {
  role: Role;
  /** Sends resolve while at most this many bytes wait to be written. */
  highWaterMark: number;
  /**
   * The keepalive timer's period in milliseconds: a Ping goes out once the
   * peer has been silent for a whole period (so after one to two of them),
   * and the connection closes with 1001 when it stays silent for one more.
   * `0` turns keepalive off.
   */
  keepaliveIntervalMs: number;
  /**
   * Whether the connection stops reading from TCP while the session does
   * not read; see {@linkcode Transport.pausable}.
   */
  pausable: boolean;
}

/** The sessions that share one keepalive timer, and the timer. */
interface KeepaliveGroup {
  sessions: Set<SocketSession>;
  timer: ReturnType<typeof setInterval>;
}

/** Speaks RFC 6455 over a connection its opener provides. */
export class SocketSession implements Transport {
  readonly #settings: Readonly<SessionSettings>;
  /** Dropped once it has run. */
  #open: Opener | undefined;
  #opening: AbortController | undefined;
  #connection: ByteConnection | undefined;
  #reader: FrameReader | undefined;
  #writer: FrameWriter | undefined;
  #compression: DeflateCodec | undefined;
  #terminated = false;
  /** Set when the connection broke while writing. */
  #writeFailure: string | undefined;
  /** Set while the receiver has no room; resolved by `resume()`. */
  #paused: PromiseWithResolvers<void> | undefined;
  /** How the session ended when it was not the reader that ended it. */
  #ending: Outcome | undefined;
  #pinged = false;

  constructor(settings: Readonly<SessionSettings>, open: Opener) {
    this.#settings = settings;
    this.#open = open;
  }

  get pausable(): boolean {
    return this.#settings.pausable;
  }

  start(events: TransportEvents): void {
    this.#run(events);
  }

  /**
   * Opens the connection, reads frames until it ends and reports how. The
   * frame loop is here, not in a function of its own: each async function
   * still waiting on an idle connection holds its own frame and promises.
   */
  async #run(events: TransportEvents): Promise<void> {
    let outcome: Outcome | undefined;
    try {
      outcome = await this.#begin(events);
      const reader = this.#reader!;
      const writer = this.#writer!;
      while (outcome === undefined) {
        if (this.#paused !== undefined) await this.#paused.promise;
        if (this.#terminated) {
          outcome = abnormal("");
        } else if (this.#writeFailure !== undefined) {
          // A write failed while reading was paused: report it now, not
          // after the reader has caught up.
          outcome = abnormal(this.#writeFailure);
        } else {
          const next = reader.next();
          const handled = this.#onFrame(
            events,
            writer,
            next instanceof Promise ? await next : next,
          );
          outcome = handled instanceof Promise ? await handled : handled;
        }
      }
    } catch (error) {
      outcome = error instanceof ProtocolError && this.#writer !== undefined
        ? await this.#failConnection(this.#writer, error)
        : this.#failed(describeError(error));
    }
    this.#hangUp();
    if (!this.#terminated) events.onClose(...(this.#ending ?? outcome));
  }

  /**
   * Opens the connection and starts writing: `undefined` when frames are to
   * be read, else how the session ended.
   */
  async #begin(events: TransportEvents): Promise<Outcome | undefined> {
    // The opener, and what it holds for the handshake, is not kept for the
    // connection's life.
    const open = this.#open!;
    this.#open = undefined;
    this.#opening = new AbortController();
    let opened;
    try {
      opened = await open(this.#opening.signal);
    } finally {
      this.#opening = undefined;
    }
    if ("failure" in opened) return abnormal(opened.failure);
    if (this.#terminated) {
      opened.connection.close();
      opened.compression?.close();
      return abnormal("");
    }
    this.#connection = opened.connection;
    this.#reader = opened.reader;
    this.#compression = opened.compression;
    this.#writer = new FrameWriter(opened.connection, {
      masked: this.#settings.role === "client",
      highWaterMark: this.#settings.highWaterMark,
      compression: opened.compression,
      onWriteFailure: (failure) => {
        this.#writeFailure = failure;
        // Ending the connection wakes the reader, which reports it.
        this.#hangUp();
      },
    });
    events.onOpen(opened.protocol, opened.extensions);
    if (this.#terminated) return abnormal("");
    this.#startKeepalive();
    return undefined;
  }

  /** Fails the connection: tells the peer why, if we still may. */
  async #failConnection(
    writer: FrameWriter,
    error: ProtocolError,
  ): Promise<Outcome> {
    writer.close(error.closeCode, "");
    await this.#lastFramesLeft(writer);
    return abnormal(error.message);
  }

  /**
   * Waits for our last frames to leave, within the closing grace. A
   * connection that cannot pause reads on from TCP meanwhile: what arrives
   * is read and dropped rather than held until we hang up.
   */
  async #lastFramesLeft(writer: FrameWriter): Promise<void> {
    if (!this.#settings.pausable) this.#reader!.drain().catch(() => {});
    await within(writer.flushed, CLOSING_GRACE_MS);
  }

  /**
   * Handles one frame event: how the session ended, or `undefined` to read
   * on. Only a Ping and the peer's Close take a promise.
   */
  #onFrame(
    events: TransportEvents,
    writer: FrameWriter,
    event: FrameEvent,
  ): Outcome | undefined | Promise<Outcome | undefined> {
    switch (event.type) {
      case "message":
        if (!events.onMessage(event.message) && this.#paused === undefined) {
          this.#paused = Promise.withResolvers();
        }
        return undefined;
      case "overflow":
        events.onOverflow();
        return undefined;
      case "ping": {
        const room = writer.pong(event.payload);
        if (room === undefined || this.#settings.pausable) {
          return room?.then(readOn);
        }
        // A connection that cannot pause reads on from TCP while we wait:
        // waiting for the Pongs to leave would only hold the Pings behind
        // them in memory instead.
        throw new ProtocolError(
          1008,
          `${
            peerName(this.#settings.role)
          } sent Pings faster than it read the Pongs`,
        );
      }
      case "pong":
        return undefined;
      case "close":
        return this.#onPeerClose(writer, event.closeCode, event.reason);
      case "end":
        return this.#failed(event.failure);
    }
  }

  /** Completes the closing handshake the peer's Close started or answered. */
  async #onPeerClose(
    writer: FrameWriter,
    closeCode: number,
    reason: string,
  ): Promise<Outcome> {
    // Data we had queued but not sent would only be discarded by the peer:
    // it is dropped, and the close is not clean (as the web's tests ask).
    const unsent = !writer.closeSent && writer.hasUnsentData;
    writer.close(closeCode === 1005 ? undefined : closeCode, reason, true);
    await this.#lastFramesLeft(writer);
    if (unsent) {
      return [
        closeCode,
        reason,
        "the peer closed the connection while a message was still being sent",
        false,
      ];
    }
    // The closing handshake completed only if our Close left: not if writing
    // broke, or is still stuck behind a frame the peer does not read.
    if (this.#writeFailure !== undefined || writer.flushed !== undefined) {
      return [
        closeCode,
        reason,
        this.#writeFailure ?? "our Close frame could not be written",
        false,
      ];
    }
    // The server closes TCP first (RFC 6455, section 7.1.1), which leaves
    // the TIME_WAIT state on its side: a client waits for it.
    if (this.#settings.role === "client") {
      await within(
        this.#reader!.drain().catch(() => {}),
        CLOSING_GRACE_MS,
      );
    }
    return [closeCode, reason, "", true];
  }

  /**
   * An abnormal end: for a write that broke, if one did (reads then fail
   * too, and say less), else for `failure`.
   */
  #failed(failure: string): Outcome {
    return abnormal(this.#writeFailure ?? failure);
  }

  /**
   * The sessions that keep alive, by interval: one timer for each interval
   * rather than one for each connection.
   */
  static readonly #keepalives = new Map<number, KeepaliveGroup>();

  /**
   * Pings a peer that has been silent for a whole interval between two ticks,
   * and closes with 1001 when it stays silent until the next, much as
   * `Deno.upgradeWebSocket` does. Any frame counts as a word from the peer,
   * and so does the opening: the shared timer's first tick may come at once.
   */
  #startKeepalive(): void {
    const interval = this.#settings.keepaliveIntervalMs;
    if (interval === 0) return;
    this.#reader!.heard = true;
    let group = SocketSession.#keepalives.get(interval);
    if (group === undefined) {
      const sessions = new Set<SocketSession>();
      const timer = setInterval(() => {
        for (const session of sessions) session.#keepAlive();
      }, interval);
      group = { sessions, timer };
      SocketSession.#keepalives.set(interval, group);
    }
    group.sessions.add(this);
  }

  #stopKeepalive(): void {
    const interval = this.#settings.keepaliveIntervalMs;
    const group = SocketSession.#keepalives.get(interval);
    if (group === undefined || !group.sessions.delete(this)) return;
    if (group.sessions.size > 0) return;
    clearInterval(group.timer);
    SocketSession.#keepalives.delete(interval);
  }

  /** One tick of the keepalive timer; see {@linkcode #startKeepalive}. */
  #keepAlive(): void {
    const writer = this.#writer!;
    const reader = this.#reader!;
    // While paused we do not read, so a Pong would go unseen behind the
    // data waiting in TCP: a slow handler is not a silent peer. Bytes heard
    // count, not frames: a long message may take many ticks to arrive.
    if (reader.heard || this.#paused !== undefined) {
      reader.heard = false;
      this.#pinged = false;
    } else if (!this.#pinged) {
      this.#pinged = true;
      writer.ping(new Uint8Array(0));
    } else if (this.#ending === undefined) {
      this.#ending = [1001, IDLE_REASON, "", false];
      writer.close(1001, IDLE_REASON);
      within(writer.flushed, CLOSING_GRACE_MS).then(() => this.#hangUp());
    }
  }

  send(message: Message): true | Promise<boolean> {
    return this.#writer?.send(message) ?? Promise.resolve(false);
  }

  close(closeCode: number | undefined, reason: string): void {
    if (this.#writer === undefined) return;
    this.#writer.close(closeCode, reason);
    // Messages after our Close are dropped as they arrive.
    this.#reader!.discarding = true;
  }

  resume(): void {
    const paused = this.#paused;
    this.#paused = undefined;
    paused?.resolve();
  }

  terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#opening?.abort();
    this.#hangUp();
  }

  /** Closes the connection; reads and writes in progress then fail. */
  #hangUp(): void {
    this.#stopKeepalive();
    this.#writer?.stop();
    this.#compression?.close();
    this.resume();
    const connection = this.#connection;
    this.#connection = undefined;
    connection?.close();
  }
}

/**
 * Waits for `promise`, if any, but no longer than `ms` milliseconds. The
 * wait is one of the shared deadlines, not a timer of its own: nearly every
 * one is cancelled, and the connection's pending read or write holds the
 * process open meanwhile.
 */
async function within(
  promise: Promise<void> | undefined,
  ms: number,
): Promise<void> {
  if (promise === undefined) return;
  let deadline: Deadline | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => {
      deadline = startDeadline(ms, resolve);
    }),
  ]);
  deadline!.cancel();
}
