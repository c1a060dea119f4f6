/**
 * One writable's queue: what the hub has handed to the writable and the
 * writable has not yet taken in, bounded in bytes.
 *
 * @module
 */

import { WebSocketError } from "../websocket_error.ts";
import {
  SLOW_SUBSCRIBER_CLOSE_CODE,
  SLOW_SUBSCRIBER_REASON,
  type SlowSubscriberPolicy,
} from "./options.ts";

const ignore = () => {};

/**
 * Bytes handed to each writable whose writes have not completed, by any
 * queue: a writable released (on its last unsubscribe) still holds what it
 * was handed, and a new subscription must count it, or subscribing and
 * unsubscribing in turn would let a stalled writable hold without bound.
 */
const unwrittenBytes = new WeakMap<WritableStream, { bytes: number }>();

/** Whether {@linkcode SubscriberQueue.offer} queued a message. */
export type OfferResult = "queued" | "skipped" | "closed";

/**
 * Holds the writer of one writable for as long as it has subscriptions.
 * Messages go straight into the writable's own queue, in order, without a
 * wait per message; the bytes whose writes have not completed are counted,
 * and a message that would take them past the bound closes the writable or
 * is skipped.
 */
export class SubscriberQueue {
  /** The hub's id for this writable, carried in envelopes to leave it out. */
  readonly id: number;
  readonly #writer: WritableStreamDefaultWriter<string | Uint8Array>;
  readonly #maxBytes: number;
  readonly #policy: SlowSubscriberPolicy;
  readonly #onEnd: () => void;
  readonly #unwritten: { bytes: number };
  #ended = false;

  /**
   * Takes the writable's lock; `onEnd` runs once when the writable closes or
   * errors, or the queue closes or releases it.
   */
  constructor(
    id: number,
    writable: WritableStream,
    maxBytes: number,
    policy: SlowSubscriberPolicy,
    onEnd: () => void,
  ) {
    this.id = id;
    this.#writer = writable.getWriter();
    this.#maxBytes = maxBytes;
    this.#policy = policy;
    this.#onEnd = onEnd;
    let unwritten = unwrittenBytes.get(writable);
    if (unwritten === undefined) {
      unwritten = { bytes: 0 };
      unwrittenBytes.set(writable, unwritten);
    }
    this.#unwritten = unwritten;
    this.#writer.closed.then(() => this.#end(), () => this.#end());
  }

  /** Bytes written and not yet taken in by the writable's sink. */
  get queuedBytes(): number {
    return this.#unwritten.bytes;
  }

  /** Whether the writable ended or was let go. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The bound, in bytes. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** The policy when full. */
  get policy(): SlowSubscriberPolicy {
    return this.#policy;
  }

  /**
   * Whether a message of `size` bytes would be queued now: when the bytes
   * stay within the bound, or when nothing is queued (a message longer than
   * the bound is no sign of a slow subscriber).
   */
  fits(size: number): boolean {
    const bytes = this.#unwritten.bytes;
    return bytes === 0 || bytes + size <= this.#maxBytes;
  }

  /** Writes `message` (of `size` bytes), or applies the policy when full. */
  offer(message: string | Uint8Array, size: number): OfferResult {
    if (this.#ended) return "closed";
    if (!this.fits(size)) {
      if (this.#policy === "skip") return "skipped";
      this.overflow();
      return "closed";
    }
    const unwritten = this.#unwritten;
    unwritten.bytes += size;
    this.#writer.write(message).then(() => unwritten.bytes -= size, ignore);
    return "queued";
  }

  /** Closes the writable as too slow (the `"close"` policy). */
  overflow(): void {
    this.fail(
      new WebSocketError("Cannot deliver: the subscriber's queue is full", {
        closeCode: SLOW_SUBSCRIBER_CLOSE_CODE,
        reason: SLOW_SUBSCRIBER_REASON,
      }),
    );
  }

  /** Ends the subscriber: its writable is aborted with `reason`. */
  fail(reason: unknown): void {
    if (this.#ended) return;
    // Aborting discards what the writable still holds.
    this.#writer.abort(reason).then(undefined, ignore);
    this.#end();
  }

  /** Releases the writable, left open; what it holds is still sent. */
  release(): void {
    if (this.#ended) return;
    this.#end();
    this.#writer.releaseLock();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd();
  }
}
