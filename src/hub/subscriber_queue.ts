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
 * What a message waiting in a queue costs beyond its bytes (its write's
 * promises and its place in the writable's queue), about: a queue holds at
 * most its bound divided by this many messages, so that empty or tiny
 * messages are bounded too.
 */
const MESSAGE_OVERHEAD_BYTES = 128;

/** The fewest messages a queue holds, however small its bound. */
const MIN_QUEUED_MESSAGES = 64;

/** Messages handed to a writable whose writes have not completed. */
interface Unwritten {
  bytes: number;
  messages: number;
}

/**
 * What each writable was handed and has not yet written, by any queue: a
 * writable released (on its last unsubscribe) still holds what it was
 * handed, and a new subscription must count it, or subscribing and
 * unsubscribing in turn would let a stalled writable hold without bound.
 */
const unwrittenOf = new WeakMap<WritableStream, Unwritten>();

/** Whether {@linkcode SubscriberQueue.offer} queued a message. */
export type OfferResult = "queued" | "skipped" | "closed";

/**
 * Holds the writer of one writable for as long as it has subscriptions.
 * Messages go straight into the writable's own queue, in order, without a
 * wait per message; the messages whose writes have not completed and their
 * bytes are counted, and a message that would take them past the bound
 * closes the writable or is skipped.
 */
export class SubscriberQueue {
  /** The hub's id for this writable, carried in envelopes to leave it out. */
  readonly id: number;
  readonly #writer: WritableStreamDefaultWriter<string | Uint8Array>;
  readonly #maxBytes: number;
  readonly #maxMessages: number;
  readonly #policy: SlowSubscriberPolicy;
  readonly #onEnd: () => void;
  readonly #unwritten: Unwritten;
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
    this.#maxMessages = Math.max(
      MIN_QUEUED_MESSAGES,
      Math.floor(maxBytes / MESSAGE_OVERHEAD_BYTES),
    );
    this.#policy = policy;
    this.#onEnd = onEnd;
    let unwritten = unwrittenOf.get(writable);
    if (unwritten === undefined) {
      unwritten = { bytes: 0, messages: 0 };
      unwrittenOf.set(writable, unwritten);
    }
    this.#unwritten = unwritten;
    this.#writer.closed.then(() => this.#end(), () => this.#end());
  }

  /** Whether the writable ended or was let go. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The bound, in bytes. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** The most messages it holds, whatever their bytes. */
  get maxMessages(): number {
    return this.#maxMessages;
  }

  /** The policy when full. */
  get policy(): SlowSubscriberPolicy {
    return this.#policy;
  }

  /**
   * Whether a message of `size` bytes would be queued now, after `held`
   * messages of `heldBytes` held back elsewhere: when the bytes stay within
   * the bound and the messages within their cap. A message longer than the
   * bound never fits: each writable may copy what it is handed (a socket
   * frames it), so handing it to every subscriber would cost the hub that
   * many copies, past every bound.
   */
  fits(size: number, heldBytes = 0, held = 0): boolean {
    return this.#unwritten.bytes + heldBytes + size <= this.#maxBytes &&
      this.#unwritten.messages + held < this.#maxMessages;
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
    unwritten.messages++;
    this.#writer.write(message).then(() => {
      unwritten.bytes -= size;
      unwritten.messages--;
    }, ignore);
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
