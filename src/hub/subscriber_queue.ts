/**
 * One writable's queue: what the hub has accepted for it and not yet handed
 * to the writable, bounded in bytes, drained at the writable's pace.
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

/** Why {@linkcode SubscriberQueue.offer} did not queue a message. */
export type OfferResult = "queued" | "skipped" | "closed";

/**
 * Holds the writer of one writable for as long as it has subscriptions. A
 * message that fits is written at once while the writable has room, else
 * queued; one that does not fit closes the writable or is skipped.
 */
export class SubscriberQueue {
  /** The hub's id for this writable, carried in envelopes to leave it out. */
  readonly id: number;
  readonly #writer: WritableStreamDefaultWriter<string | Uint8Array>;
  readonly #maxBytes: number;
  readonly #policy: SlowSubscriberPolicy;
  readonly #onEnd: () => void;
  #messages: (string | Uint8Array | undefined)[] = [];
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;
  #draining = false;
  #ended = false;

  /**
   * Takes the writable's lock; `onEnd` runs once when the writable closes or
   * errors, or the queue closes it.
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
    this.#writer.closed.then(() => this.#end(), () => this.#end());
  }

  /** Bytes waiting in this queue. */
  get queuedBytes(): number {
    return this.#bytes;
  }

  /** Whether the writable ended or was let go. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Whether a message of `size` bytes would be queued or written now. */
  fits(size: number): boolean {
    return (!this.#draining && (this.#writer.desiredSize ?? 0) > 0) ||
      this.#bytes + size <= this.#maxBytes;
  }

  /** Hands `message` (of `size` bytes) on, queues it, or applies the policy. */
  offer(message: string | Uint8Array, size: number): OfferResult {
    if (this.#ended) return "closed";
    if (!this.#draining && (this.#writer.desiredSize ?? 0) > 0) {
      this.#writer.write(message).then(undefined, ignore);
      return "queued";
    }
    if (this.#bytes + size > this.#maxBytes) {
      if (this.#policy === "skip") return "skipped";
      this.overflow();
      return "closed";
    }
    this.#messages.push(message);
    this.#sizes.push(size);
    this.#bytes += size;
    if (!this.#draining) this.#drain();
    return "queued";
  }

  /** The bound, in bytes. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** The policy when full. */
  get policy(): SlowSubscriberPolicy {
    return this.#policy;
  }

  /** Closes the writable as too slow (the `"close"` policy). */
  overflow(): void {
    if (this.#ended) return;
    this.#writer.abort(
      new WebSocketError("Cannot deliver: the subscriber's queue is full", {
        closeCode: SLOW_SUBSCRIBER_CLOSE_CODE,
        reason: SLOW_SUBSCRIBER_REASON,
      }),
    ).then(undefined, ignore);
    this.#end();
  }

  /** Drops what is queued and releases the writable, leaving it open. */
  release(): void {
    if (this.#ended) return;
    this.#end();
    this.#writer.releaseLock();
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#head < this.#messages.length && !this.#ended) {
        if ((this.#writer.desiredSize ?? 0) <= 0) await this.#writer.ready;
        if (this.#ended) return;
        const message = this.#messages[this.#head]!;
        this.#bytes -= this.#sizes[this.#head]!;
        this.#messages[this.#head] = undefined;
        this.#head++;
        if (this.#head >= 1024 && this.#head * 2 >= this.#messages.length) {
          this.#messages = this.#messages.slice(this.#head);
          this.#sizes = this.#sizes.slice(this.#head);
          this.#head = 0;
        }
        this.#writer.write(message).then(undefined, ignore);
      }
    } catch {
      // `ready` rejects once the writable errors; `closed` ends the queue.
    } finally {
      this.#draining = false;
      this.#messages = [];
      this.#sizes = [];
      this.#head = 0;
      if (this.#ended) this.#bytes = 0;
    }
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#messages = [];
    this.#sizes = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#onEnd();
  }
}
