/**
 * The binary fragments of a message being received, held at about the cost
 * of their bytes however small they are.
 *
 * @module
 */

import { joinChunks } from "./frame.ts";

/**
 * Fragments shorter than this are copied together into shared blocks: an
 * array of its own costs a couple of hundred bytes, so a peer sending a
 * message a byte per frame would make us hold hundreds of times what it
 * sends.
 */
const SMALL_FRAGMENT_BYTES = 1024;

/**
 * The largest block small fragments are copied into. Blocks start at
 * `SMALL_FRAGMENT_BYTES` and double up to it, so a message of a few short
 * fragments does not pay for a large block.
 */
const MAX_BLOCK_BYTES = 16 * 1024;

/**
 * Collects a message's fragments in order and joins them at its end. Long
 * fragments are kept as they are; short ones are copied into blocks.
 */
export class FragmentBuffer {
  readonly #chunks: Uint8Array[] = [];
  #block: Uint8Array | undefined;
  #blockBytes = 0;
  #nextBlockBytes = SMALL_FRAGMENT_BYTES;
  /** Whether a chunk is a view of a block, which must not be handed out. */
  #copied = false;

  /** Adds the next fragment; it is kept, not copied, when long. */
  push(fragment: Uint8Array): void {
    const length = fragment.byteLength;
    if (length === 0) return;
    if (length >= SMALL_FRAGMENT_BYTES) {
      this.#seal();
      this.#chunks.push(fragment);
      return;
    }
    if (
      this.#block === undefined ||
      this.#blockBytes + length > this.#block.byteLength
    ) {
      this.#seal();
      this.#block = new Uint8Array(this.#nextBlockBytes);
      this.#nextBlockBytes = Math.min(
        this.#nextBlockBytes * 2,
        MAX_BLOCK_BYTES,
      );
    }
    this.#block.set(fragment, this.#blockBytes);
    this.#blockBytes += length;
  }

  /** The message: every fragment, joined in order. */
  join(): Uint8Array {
    this.#seal();
    return joinChunks(this.#chunks, this.#copied);
  }

  #seal(): void {
    if (this.#block === undefined) return;
    this.#chunks.push(this.#block.subarray(0, this.#blockBytes));
    this.#copied = true;
    this.#block = undefined;
    this.#blockBytes = 0;
  }
}
