/**
 * The frames queued and not yet taken by the connection,
 * encoded back to back into reused buffers: each payload is copied once, and
 * frames queued together leave in one write.
 *
 * @module
 */

import type { Message } from "../message.ts";
import { frameSize, payloadLength, writeFrame } from "./frame.ts";

/** The first gathering buffer's size: a few small frames. */
const MIN_CAPACITY = 4 * 1024;
/** The largest gathering buffer; a bigger frame gets an array of its own. */
const MAX_CAPACITY = 256 * 1024;

/**
 * A first-in first-out queue of frames, as bytes to write: masked in the
 * client role, plain in the server role.
 */
export class OutgoingFrames {
  readonly #masked: boolean;
  /** Runs of frames ready to write, oldest first. */
  #ready: Uint8Array[] = [];
  /** Where the newest frames are being gathered, and how far it is filled. */
  #gathering: Uint8Array | undefined;
  #filled = 0;
  /**
   * The size of gathering buffers: it doubles whenever a frame does not fit,
   * so bulk writers get large writes and chatty ones stay small.
   */
  #capacity = MIN_CAPACITY;
  /**
   * Written gathering buffers, kept for the next ones: a bulk writer then
   * masks into the same few buffers instead of leaving one for the garbage
   * collector every few frames. There are never more of them than the
   * buffers queued at once, and at most one once the queue runs dry.
   */
  #spares: Uint8Array[] | undefined;
  /** Bytes queued and not yet released as written. */
  #bytes = 0;

  /** @param masked Whether frames are masked, as a client's must be. */
  constructor(masked: boolean) {
    this.#masked = masked;
  }

  /** The bytes queued and not yet written: what a write waits on. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues one frame. */
  push(opcode: number, payload: Message): void {
    const length = payloadLength(payload);
    const size = frameSize(length, this.#masked);
    this.#bytes += size;
    if (size > MAX_CAPACITY) {
      this.#seal();
      const frame = new Uint8Array(size);
      writeFrame(frame, 0, opcode, payload, length, this.#masked);
      this.#ready.push(frame);
      return;
    }
    let gathering = this.#gathering;
    if (gathering === undefined || this.#filled + size > gathering.length) {
      const capacity = this.#capacity;
      if (gathering !== undefined) {
        this.#seal();
        this.#capacity = Math.min(this.#capacity * 2, MAX_CAPACITY);
      }
      while (this.#capacity < size) this.#capacity *= 2;
      if (this.#capacity !== capacity) this.#spares = undefined;
      gathering = this.#spares?.pop() ?? new Uint8Array(this.#capacity);
      this.#gathering = gathering;
    }
    this.#filled = writeFrame(
      gathering,
      this.#filled,
      opcode,
      payload,
      length,
      this.#masked,
    );
  }

  /**
   * The next bytes to write: the oldest run of frames, which stays this
   * queue's until {@linkcode release}d. `undefined` when nothing is queued.
   */
  take(): Uint8Array | undefined {
    if (this.#ready.length === 0) this.#seal();
    const run = this.#ready.shift();
    const spares = this.#spares;
    if (run === undefined && spares !== undefined && spares.length > 1) {
      spares.length = 1;
    }
    return run;
  }

  /** Hands back bytes from {@linkcode take} once written, for reuse. */
  release(written: Uint8Array): void {
    this.#bytes -= written.byteLength;
    if (written.buffer.byteLength === this.#capacity) {
      (this.#spares ??= []).push(new Uint8Array(written.buffer));
    }
  }

  /** Drops every frame not yet taken. */
  clear(): void {
    this.#bytes -= this.#filled;
    for (const run of this.#ready) this.#bytes -= run.byteLength;
    this.#ready = [];
    this.#filled = 0;
  }

  /** Makes the frames gathered so far a run of their own. */
  #seal(): void {
    if (this.#filled === 0) return;
    this.#ready.push(this.#gathering!.subarray(0, this.#filled));
    this.#gathering = undefined;
    this.#filled = 0;
  }
}
