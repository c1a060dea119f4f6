/**
 * The permessage-deflate codec of one connection (RFC 7692, sections 6 and
 * 7.2): raw DEFLATE through the runtime's zlib, a sync flush ending each
 * message whose `00 00 ff ff` tail is left off the wire, and each direction's
 * context kept or reset between messages as negotiated.
 *
 * Each direction runs one operation at a time, in the order they were asked
 * for, so messages keep their order and a connection holds at most one
 * message's work in zlib per direction. Deno's `node:zlib` does its work on
 * the main thread, so long messages go to zlib a slice at a time with the
 * event loop served in between: one connection's long message then delays
 * the others by a slice, not by the whole message.
 *
 * @module
 */

import type * as Zlib from "node:zlib";
import type { Writable } from "node:stream";
import type { Role } from "../close_code.ts";
import type { DeflateParameters } from "./permessage_deflate_negotiation.ts";
import { joinChunks } from "./frame.ts";
import { findZlib, nextTurn } from "./runtime.ts";

/** See `CompressionOptions.threshold`: without context takeover. */
const DEFAULT_RESET_THRESHOLD = 1024;
/** See `CompressionOptions.level`. */
const DEFAULT_LEVEL = 4;

/** How one end compresses what it sends, beyond what was negotiated. */
export interface DeflateSettings {
  /** Messages shorter than this many bytes go uncompressed. */
  threshold?: number | undefined;
  /** zlib's compression level, 0 to 9. */
  level?: number | undefined;
}

/** What a sync flush ends with, and what the sender leaves off the wire. */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/**
 * A compressed message at least this fraction of its original size counts as
 * incompressible: later messages are then sent as they are for a while.
 */
const POOR_RATIO = 0.9;
/** The most messages sent uncompressed after incompressible ones in a row. */
const MAX_SKIPPED_MESSAGES = 64;

/** The most bytes given to zlib between two turns of the event loop. */
const SLICE_BYTES = 64 * 1024;

/** The runtime's zlib; compression is only agreed where there is one. */
function runtimeZlib(): typeof Zlib {
  const zlib = findZlib();
  if (zlib === undefined) {
    throw new Error("Cannot compress: this runtime has no node:zlib");
  }
  return zlib;
}

/** Why compressed data could not be inflated: the peer fails with 1007. */
export class InflateError extends Error {
  override name = "InflateError";
}

/** One zlib operation in flight, settled by whichever event comes first. */
interface Operation<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

/** Compresses the messages one end sends and inflates those it receives. */
export class DeflateCodec {
  readonly #threshold: number;
  readonly #level: number;
  readonly #sendBits: number;
  readonly #sendResets: boolean;
  readonly #receiveBits: number;
  readonly #receiveResets: boolean;
  #closed = false;

  #deflater: Zlib.DeflateRaw | undefined;
  #deflated: Uint8Array[] = [];
  #deflating: Operation<Uint8Array> | undefined;
  #deflateQueue: Promise<unknown> = Promise.resolve();
  /** Messages still to send uncompressed after an incompressible one. */
  #skipMessages = 0;
  /** How many to skip after the next incompressible one. */
  #skipNext = 1;
  /** Whether the latest compressed message shrank, as assumed at first. */
  #compresses = true;
  /**
   * After incompressible messages, one is being compressed to find out
   * whether messages shrink again: until it tells, the others go as they
   * are, so that a fast sender piles up no work on data that does not.
   */
  #probing = false;

  #inflater: Zlib.InflateRaw | undefined;
  #inflated: Uint8Array[] = [];
  #inflatedBytes = 0;
  #inflateLimit = 0;
  #inflating: Operation<Uint8Array | "overflow"> | undefined;
  #inflateQueue: Promise<unknown> = Promise.resolve();

  /**
   * @param parameters What was negotiated.
   * @param role Which end this is: it compresses with its own side's
   *   parameters and inflates with the peer's.
   * @param settings How this end compresses.
   */
  constructor(
    parameters: DeflateParameters,
    role: Role,
    settings: DeflateSettings = {},
  ) {
    // Each end compresses with its own side's parameters.
    const peer = role === "client" ? "server" : "client";
    this.#sendBits = parameters[`${role}MaxWindowBits`];
    this.#sendResets = parameters[`${role}NoContextTakeover`];
    this.#receiveBits = parameters[`${peer}MaxWindowBits`];
    this.#receiveResets = parameters[`${peer}NoContextTakeover`];
    this.#threshold = settings.threshold ??
      (this.#sendResets ? DEFAULT_RESET_THRESHOLD : 0);
    this.#level = settings.level ?? DEFAULT_LEVEL;
  }

  /**
   * Whether a message of `length` bytes is worth compressing: long enough,
   * and not while recent messages came out of zlib hardly smaller. Messages
   * sent uncompressed do not touch the context, so skipping is always safe.
   */
  shouldCompress(length: number): boolean {
    // An empty message gains nothing.
    if (this.#closed || length === 0 || length < this.#threshold) return false;
    if (this.#skipMessages > 0) {
      this.#skipMessages--;
      return false;
    }
    if (this.#compresses) return true;
    if (this.#probing) return false;
    this.#probing = true;
    return true;
  }

  /**
   * Compresses one message into the payload of a frame with RSV1 set.
   * Resolves to `undefined` when the message is better sent as it is (it
   * did not shrink and this side keeps no context, so nothing depends on
   * it); with context takeover the compressed payload is always returned,
   * as the peer's context must see every compressed message. zlib reads
   * `message` later, so it must not change until the promise settles.
   * Rejects once {@linkcode DeflateCodec.close} was called.
   */
  compress(message: Uint8Array): Promise<Uint8Array | undefined> {
    const result = this.#deflateQueue.then(() => this.#deflate(message));
    this.#deflateQueue = result.catch(() => {});
    return result;
  }

  async #deflate(message: Uint8Array): Promise<Uint8Array | undefined> {
    const deflater = this.#deflater ??= this.#createDeflater();
    const output = await new Promise<Uint8Array>((resolve, reject) => {
      this.#deflating = { resolve, reject };
      feed(deflater, [message], () => this.#deflater !== deflater).then(
        (written) => {
          if (!written) return;
          deflater.flush(runtimeZlib().constants.Z_SYNC_FLUSH, () => {
            resolve(joinChunks(this.#deflated, true));
            this.#deflated = [];
          });
        },
      ).catch(reject);
    });
    this.#deflating = undefined;
    // Without context takeover zlib's memory is given back between
    // messages, which is what the parameter is for.
    if (this.#sendResets && this.#deflater === deflater) {
      this.#deflater = undefined;
      deflater.close();
    }
    // zlib writes nothing at all for an empty message right after a flush:
    // the payload is then an empty block, as RFC 7692, section 7.2.3.6
    // shows, since an empty payload would leave the peer's inflater halfway
    // through the tail it appends.
    const payload = output.byteLength === 0
      ? new Uint8Array(1)
      : output.subarray(0, output.byteLength - TAIL.byteLength);
    this.#probing = false;
    this.#compresses = payload.byteLength < message.byteLength * POOR_RATIO;
    if (this.#compresses) {
      this.#skipNext = 1;
      return payload;
    }
    this.#skipMessages = this.#skipNext;
    this.#skipNext = Math.min(this.#skipNext * 2, MAX_SKIPPED_MESSAGES);
    return this.#sendResets && payload.byteLength >= message.byteLength
      ? undefined
      : payload;
  }

  #createDeflater(): Zlib.DeflateRaw {
    this.#throwIfClosed("compress");
    const deflater = runtimeZlib().createDeflateRaw({
      windowBits: this.#sendBits,
      level: this.#level,
    });
    deflater.on("data", (chunk: Uint8Array) => this.#deflated.push(chunk));
    deflater.on("error", (error: Error) => {
      this.#deflater = undefined;
      this.#deflating?.reject(error);
    });
    return deflater;
  }

  /**
   * Inflates one frame's payload of a compressed message; `fin` marks the
   * message's last frame. Resolves to the bytes it inflated to, or to
   * `"overflow"` as soon as they would be more than `limit` bytes: zlib then
   * stops at once, so memory stays bounded however far the data would
   * inflate, and the rest of the message must be skipped (the inflate
   * context is gone; the connection is expected to close). Rejects with an
   * {@linkcode InflateError} when the data is not valid DEFLATE.
   */
  inflate(
    payload: Uint8Array,
    fin: boolean,
    limit: number,
  ): Promise<Uint8Array | "overflow"> {
    const result = this.#inflateQueue.then(() =>
      this.#inflateFrame(payload, fin, limit)
    );
    this.#inflateQueue = result.catch(() => {});
    return result;
  }

  async #inflateFrame(
    payload: Uint8Array,
    fin: boolean,
    limit: number,
  ): Promise<Uint8Array | "overflow"> {
    this.#throwIfClosed("inflate");
    const inflater = this.#inflater ??= this.#createInflater();
    this.#inflated = [];
    this.#inflatedBytes = 0;
    this.#inflateLimit = limit;
    const result = await new Promise<Uint8Array | "overflow">(
      (resolve, reject) => {
        this.#inflating = { resolve, reject };
        feed(
          inflater,
          fin ? [payload, TAIL] : [payload],
          () => this.#inflater !== inflater,
        ).then((written) => {
          // Not all written: after an overflow, an error or a close the
          // promise is settled already; else the sender's final block
          // (BFINAL) ended the stream, and that is the message.
          if (!written) {
            resolve(joinChunks(this.#inflated, true));
            return;
          }
          inflater.flush(() => {
            // Comes after an overflow or a close too, with the promise settled.
            // zlib's error event comes later still; a sender's final block
            // (BFINAL) ends the inflater first, and then the tail does not
            // count as an error.
            const error = inflater.errored;
            if (error && this.#inflater === inflater) {
              this.#inflater = undefined;
              reject(new InflateError(error.message));
            } else resolve(joinChunks(this.#inflated, true));
          });
        }).catch(reject);
      },
    );
    this.#inflating = undefined;
    this.#inflated = [];
    if (fin && this.#receiveResets && this.#inflater === inflater) {
      this.#dropInflater();
    }
    return result;
  }

  #createInflater(): Zlib.InflateRaw {
    const inflater = runtimeZlib().createInflateRaw({
      windowBits: this.#receiveBits,
    });
    inflater.on("data", (chunk: Uint8Array) => {
      if (this.#inflater !== inflater) return;
      this.#inflatedBytes += chunk.byteLength;
      if (this.#inflatedBytes <= this.#inflateLimit) {
        this.#inflated.push(chunk);
        return;
      }
      this.#dropInflater();
      this.#inflating?.resolve("overflow");
    });
    // A message that ended with a final block (RFC 7692, section 7.2.3.4)
    // ended the stream: the next message starts a new one.
    inflater.on("end", () => {
      if (this.#inflater === inflater) this.#inflater = undefined;
    });
    inflater.on("error", (error: Error) => {
      if (this.#inflater !== inflater) return;
      this.#inflater = undefined;
      this.#inflating?.reject(new InflateError(error.message));
    });
    return inflater;
  }

  /** Stops the inflater's work at once and forgets it. */
  #dropInflater(): void {
    const inflater = this.#inflater;
    this.#inflater = undefined;
    this.#inflated = [];
    inflater?.close();
  }

  /**
   * Frees zlib's memory. Operations in progress and later ones reject; call
   * it once the connection is over.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#dropInflater();
    this.#deflater?.close();
    this.#deflater = undefined;
    const closed = (what: string) =>
      new Error(`Cannot ${what}: the connection is closed`);
    this.#deflating?.reject(closed("compress"));
    this.#inflating?.reject(closed("inflate"));
  }

  #throwIfClosed(what: string): void {
    if (this.#closed) {
      throw new Error(`Cannot ${what}: the connection is closed`);
    }
  }
}

/**
 * Writes `parts` to `stream` a slice at a time, serving the event loop
 * between slices. Resolves to `true` once all is written, `false` as soon as
 * `stopped()` says to give up.
 */
async function feed(
  stream: Writable,
  parts: Uint8Array[],
  stopped: () => boolean,
): Promise<boolean> {
  let sinceTurn = 0;
  let written: Promise<unknown> = Promise.resolve();
  for (const part of parts) {
    for (let at = 0; at < part.byteLength; at += SLICE_BYTES) {
      if (sinceTurn >= SLICE_BYTES) {
        // zlib works through a slice before the next one is given.
        await written;
        await nextTurn();
        sinceTurn = 0;
      }
      if (stopped()) return false;
      const slice = part.subarray(at, at + SLICE_BYTES);
      written = new Promise((resolve) => stream.write(slice, resolve));
      sinceTurn += slice.byteLength;
    }
  }
  return !stopped();
}
