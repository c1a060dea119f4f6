/**
 * Frames and queues what we send, for either role, over the writing half of
 * a {@linkcode ByteConnection}: messages wait in an
 * {@linkcode OutgoingFrames} queue, a Pong answers every Ping in order, and
 * frames queued in a burst leave in one write. It owns no socket: a write
 * that fails is reported to the caller, which hangs up.
 *
 * @module
 */

import { describeError } from "../describe_error.ts";
import type { Message } from "../message.ts";
import type { ByteConnection } from "./byte_connection.ts";
import { closePayload, Opcode, payloadLength, RSV1 } from "./frame.ts";
import { OutgoingFrames } from "./outgoing_frames.ts";
import type { DeflateCodec } from "./permessage_deflate_codec.ts";
import { nextTurn } from "./runtime.ts";

const encoder = new TextEncoder();

/** What the writer writes to: the writing half of a connection. */
export type ByteSink = Pick<ByteConnection, "write">;

/**
 * The most Pongs that may wait to be written. A peer that pings faster than
 * it reads our Pongs is read no further until they have left
 * (see {@linkcode FrameWriter.pong}): every Ping is still answered, and
 * memory stays bounded.
 */
export const MAX_QUEUED_PONGS = 256;

/** Options for a {@linkcode FrameWriter}. */
export interface FrameWriterOptions {
  /** Whether frames are masked: a client's must be, a server's must not. */
  masked: boolean;
  /** Sends resolve while at most this many bytes wait to be written. */
  highWaterMark: number;
  /** Called once when a write fails, with why. */
  onWriteFailure: (failure: string) => void;
  /** Compresses messages when permessage-deflate was agreed. */
  compression?: DeflateCodec | undefined;
}

/** Frames and writes messages and control frames; see the module doc. */
export class FrameWriter {
  readonly #sink: ByteSink;
  readonly #highWaterMark: number;
  readonly #compression: DeflateCodec | undefined;
  readonly #onWriteFailure: (failure: string) => void;
  readonly #outgoing: OutgoingFrames;
  /** Payloads of Pings not yet answered, oldest first; made by the first. */
  #pongs: Uint8Array[] | undefined;
  #writing: Promise<void> | undefined;
  #roomWaiter: PromiseWithResolvers<boolean> | undefined;
  /** Frames queued since the writer last ran dry. */
  #burstFrames = 0;
  /** Whether the writer waits a turn for more frames before writing. */
  #joinWrites = false;
  #closeSent = false;
  #stopped = false;
  /** Waits for the Pong backlog to shrink; see {@linkcode MAX_QUEUED_PONGS}. */
  #pongRoom: PromiseWithResolvers<void> | undefined;
  // Byte counts over the connection's life, to tell whether the last
  // message has been written: the queue keeps frames in order.
  #queuedTotal = 0;
  #writtenTotal = 0;
  #lastMessageEnd = 0;
  /**
   * The last of the messages (and the Close after them) that wait for
   * compression, in order; `undefined` when none does.
   */
  #compressing: Promise<void> | undefined;
  /** The bytes of the messages waiting for compression. */
  #compressingBytes = 0;
  /** Messages waiting for compression are dropped, not queued. */
  #dropCompressing = false;

  constructor(sink: ByteSink, options: FrameWriterOptions) {
    this.#sink = sink;
    // The options object itself is not kept for the connection's life.
    this.#highWaterMark = options.highWaterMark;
    this.#compression = options.compression;
    this.#onWriteFailure = options.onWriteFailure;
    this.#outgoing = new OutgoingFrames(options.masked);
  }

  /** Whether our Close frame is queued or sent: nothing may follow it. */
  get closeSent(): boolean {
    return this.#closeSent;
  }

  /** Whether a message is queued or still being written. */
  get hasUnsentData(): boolean {
    return this.#compressing !== undefined ||
      this.#writtenTotal < this.#lastMessageEnd;
  }

  /** Settles once everything queued is written (or writing failed). */
  get flushed(): Promise<void> | undefined {
    return this.#compressing?.then(() => this.#writing) ?? this.#writing;
  }

  /**
   * Queues a message. Returns `true` while there is room for more, else a
   * promise of `true` once there is, or of `false` when the connection ends
   * first.
   */
  send(message: Message): true | Promise<boolean> {
    if (this.#closeSent || this.#stopped) return Promise.resolve(false);
    const opcode = typeof message === "string" ? Opcode.Text : Opcode.Binary;
    const compress = this.#compression?.shouldCompress(
      payloadLength(message),
    ) ?? false;
    if (compress || this.#compressing !== undefined) {
      this.#sendCompressed(opcode, message, compress);
    } else {
      this.#enqueue(opcode, message);
      this.#lastMessageEnd = this.#queuedTotal;
    }
    if (this.#queuedBytes() <= this.#highWaterMark) return true;
    this.#roomWaiter?.resolve(false);
    this.#roomWaiter = Promise.withResolvers();
    return this.#roomWaiter.promise;
  }

  /**
   * Queues `message` once compressed, after the messages already waiting for
   * compression; a message that is to stay uncompressed waits its turn too.
   */
  #sendCompressed(opcode: number, message: Message, compress: boolean): void {
    // zlib reads the bytes later, and the caller may reuse its buffer.
    const bytes = typeof message === "string"
      ? encoder.encode(message)
      : message.slice();
    // A codec closed at hang-up rejects; the message then goes nowhere.
    const compressed = compress
      ? this.#compression!.compress(bytes).catch(() => null)
      : Promise.resolve(undefined);
    this.#compressingBytes += bytes.byteLength;
    this.#afterCompression(async () => {
      const payload = await compressed;
      this.#compressingBytes -= bytes.byteLength;
      if (this.#stopped || this.#dropCompressing || payload === null) return;
      if (payload === undefined) this.#enqueue(opcode, bytes);
      else this.#enqueue(opcode | RSV1, payload);
      this.#lastMessageEnd = this.#queuedTotal;
    });
  }

  /** Runs `step` after the messages waiting for compression are queued. */
  #afterCompression(step: () => Promise<void> | void): void {
    const next = (this.#compressing ?? Promise.resolve()).then(step);
    this.#compressing = next;
    next.then(() => {
      if (this.#compressing === next) this.#compressing = undefined;
    });
  }

  /** Bytes waiting to be written or compressed: what a send waits on. */
  #queuedBytes(): number {
    return this.#outgoing.bytes + this.#compressingBytes;
  }

  /** Queues a Ping. */
  ping(payload: Uint8Array): void {
    if (this.#closeSent || this.#stopped) return;
    this.#enqueue(Opcode.Ping, payload);
  }

  /**
   * Queues the Pong for a Ping, after those of earlier Pings. Returns a
   * promise to wait for when {@linkcode MAX_QUEUED_PONGS} are waiting.
   */
  pong(payload: Uint8Array): Promise<void> | undefined {
    if (this.#closeSent || this.#stopped) return undefined;
    const pongs = this.#pongs ??= [];
    pongs.push(payload);
    this.#burstFrames++;
    this.#writing ??= this.#writeQueued();
    if (pongs.length < MAX_QUEUED_PONGS) return undefined;
    this.#pongRoom ??= Promise.withResolvers();
    return this.#pongRoom.promise;
  }

  /**
   * Queues our Close frame (empty without a code); with `dropData`, after
   * dropping the messages not yet taken for writing.
   */
  close(closeCode: number | undefined, reason: string, dropData = false): void {
    if (this.#closeSent || this.#stopped) return;
    if (dropData) {
      const before = this.#outgoing.bytes;
      this.#outgoing.clear();
      this.#queuedTotal -= before - this.#outgoing.bytes;
      this.#dropCompressing = true;
      // A send still waiting did not get its message to the peer, even if
      // the frame being written when the Close came still leaves.
      this.#roomWaiter?.resolve(false);
      this.#roomWaiter = undefined;
    }
    this.#closeSent = true;
    const queueClose = () => {
      if (this.#stopped) return;
      this.#queuePongs();
      this.#enqueue(Opcode.Close, closePayload(closeCode, reason));
    };
    // Our Close follows the messages still being compressed.
    if (this.#compressing === undefined || dropData) queueClose();
    else this.#afterCompression(queueClose);
  }

  /** Writes nothing more: waiting sends get `false`. */
  stop(): void {
    this.#stopped = true;
    this.#roomWaiter?.resolve(false);
    this.#roomWaiter = undefined;
    this.#pongs = undefined;
    this.#wakePongWaiter();
  }

  #queuePongs(): void {
    const pongs = this.#pongs;
    this.#pongs = undefined;
    if (pongs !== undefined) {
      for (const payload of pongs) this.#push(Opcode.Pong, payload);
    }
    this.#wakePongWaiter();
  }

  #wakePongWaiter(): void {
    const waiter = this.#pongRoom;
    this.#pongRoom = undefined;
    waiter?.resolve();
  }

  #push(opcode: number, payload: Message): void {
    const before = this.#outgoing.bytes;
    this.#outgoing.push(opcode, payload);
    this.#queuedTotal += this.#outgoing.bytes - before;
  }

  #enqueue(opcode: number, payload: Message): void {
    this.#push(opcode, payload);
    this.#burstFrames++;
    this.#writing ??= this.#writeQueued();
  }

  async #writeQueued(): Promise<void> {
    try {
      if (this.#joinWrites) await nextTurn();
      while (!this.#stopped) {
        this.#queuePongs();
        const bytes = this.#outgoing.take();
        if (bytes === undefined) break;
        await this.#sink.write(bytes);
        this.#outgoing.release(bytes);
        this.#writtenTotal += bytes.byteLength;
        if (this.#queuedBytes() <= this.#highWaterMark) {
          this.#roomWaiter?.resolve(true);
          this.#roomWaiter = undefined;
        }
      }
    } catch (error) {
      if (!this.#stopped) this.#onWriteFailure(describeError(error));
    } finally {
      this.#writing = undefined;
      // Frames that came in bursts are likely to again: then wait a turn
      // before writing, so that a burst leaves in one write. One frame at a
      // time (a request and its answer) is written at once.
      this.#joinWrites = this.#burstFrames > 1;
      this.#burstFrames = 0;
    }
  }
}
