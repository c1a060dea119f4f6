/**
 * A writable's subscription to one topic: what it delivers, what it skipped,
 * and its recovery of missed messages.
 *
 * @module
 */

import { describeError, describeValue } from "../describe_error.ts";
import { createWebSocketError } from "../websocket_error.ts";
import { measureMessage } from "./message_size.ts";
import type { SubscribeOptions } from "./options.ts";
import type { SubscriberQueue } from "./subscriber_queue.ts";

/**
 * A message as {@linkcode SubscribeOptions.encode} sees it. `offset` is set
 * by engines that keep history (the Redis engine with `history`), and is
 * what a client passes back as `since` to recover what it missed.
 *
 * @example Writing the offset along with each message
 * ```ts
 * import type { HubMessage } from "@streams/websocket/hub";
 *
 * const encode = ({ data, offset }: HubMessage) =>
 *   JSON.stringify({ offset, text: data });
 * console.log(encode({ topic: "t", data: "hi", offset: "1-0" }));
 * ```
 */
export interface HubMessage {
  /** The topic it was published on. */
  topic: string;
  /** The message as published: text or binary. */
  data: string | Uint8Array;
  /** Its offset in the engine's history, when the engine keeps one. */
  offset: string | undefined;
}

/**
 * The outcome of a recovery: `recovered` is `false` when the engine no
 * longer had every message after the given offset (or keeps no history),
 * or when they were more than the subscriber's `maxQueuedBytes`;
 * `count` is how many missed messages were delivered.
 *
 * @example Telling a client its history is gone
 * ```ts
 * import type { HubRecovery } from "@streams/websocket/hub";
 *
 * const outcome: HubRecovery = { recovered: false, count: 0 };
 * if (!outcome.recovered) console.log("reload the page");
 * ```
 */
export interface HubRecovery {
  /** Whether every missed message was delivered. */
  recovered: boolean;
  /** How many missed messages were delivered. */
  count: number;
}

/**
 * What `hub.subscribe()` returns.
 *
 * @example Unsubscribing
 * ```ts
 * import { Hub } from "@streams/websocket/hub";
 *
 * const hub = new Hub();
 * const subscription = hub.subscribe("news", new WritableStream());
 * subscription.unsubscribe();
 * console.log(subscription.active); // false
 * await hub.close();
 * ```
 */
export interface Subscription {
  /** The topic. */
  readonly topic: string;
  /** The writable the messages go to. */
  readonly writable: WritableStream;
  /** Messages left out under the `"skip"` policy, in total. */
  readonly skipped: number;
  /** `false` once unsubscribed, or once the writable ended. */
  readonly active: boolean;
  /** With `since`: how the recovery went. Never rejects. */
  readonly recovery: Promise<HubRecovery> | undefined;
  /**
   * Queues a message for this writable alone, in order with what the hub
   * delivers to it (a greeting, a notice of skipped messages...). Returns
   * whether it was queued: not when the subscription ended, nor when the
   * queue is full (then the policy applies: a `"close"` queue closes).
   * During a recovery the live messages held back for after it count too.
   */
  send(message: string | Uint8Array): boolean;
  /** Stops delivering this topic to the writable; idempotent. */
  unsubscribe(): void;
}

/** The close code for a subscriber whose callback failed: an internal error. */
const CALLBACK_FAILED_CLOSE_CODE = 1011;

/** The error a subscriber is aborted with when its `callback` failed. */
function callbackFailure(callback: "encode" | "onSkip", why: string): Error {
  return createWebSocketError(
    `Cannot deliver: the subscription's ${callback} failed: ${why}`,
    CALLBACK_FAILED_CLOSE_CODE,
    "Internal Error",
  );
}

/** A missed message, as recovered from an engine. */
export interface RecoveredMessage {
  offset: string;
  message: string | Uint8Array;
}

/** The hub's side of a {@linkcode Subscription}. */
export class HubSubscription implements Subscription {
  readonly topic: string;
  readonly writable: WritableStream;
  readonly queue: SubscriberQueue;
  recovery: Promise<HubRecovery> | undefined = undefined;
  readonly #encode: SubscribeOptions["encode"];
  readonly #onSkip: SubscribeOptions["onSkip"];
  readonly #onUnsubscribe: (subscription: HubSubscription) => void;
  #skipped = 0;
  #skippedInARow = 0;
  #active = true;
  /** Live messages held while recovering, with their bytes. */
  #held: { message: string | Uint8Array; offset: string | undefined }[] | null =
    null;
  #heldBytes = 0;

  constructor(
    topic: string,
    writable: WritableStream,
    queue: SubscriberQueue,
    options: SubscribeOptions,
    onUnsubscribe: (subscription: HubSubscription) => void,
  ) {
    this.topic = topic;
    this.writable = writable;
    this.queue = queue;
    this.#encode = options.encode;
    this.#onSkip = options.onSkip;
    this.#onUnsubscribe = onUnsubscribe;
  }

  get skipped(): number {
    return this.#skipped;
  }

  get active(): boolean {
    return this.#active && !this.queue.ended;
  }

  send(message: string | Uint8Array): boolean {
    if (!this.active) return false;
    const size = measureMessage(message);
    // While recovering, live messages are held outside the queue: what is
    // sent meanwhile shares the bound with them.
    if (this.#held !== null && !this.#fitsBesideHeld(size)) {
      if (this.queue.policy === "close") this.queue.overflow();
      return false;
    }
    return this.queue.offer(message, size) === "queued";
  }

  unsubscribe(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#held = null;
    this.#onUnsubscribe(this);
  }

  /** Delivers a published message of `size` bytes. */
  deliver(
    message: string | Uint8Array,
    size: number,
    offset: string | undefined,
  ): void {
    if (this.#held !== null) {
      this.#hold(message, size, offset);
      return;
    }
    if (this.#encode !== undefined) {
      const encoded = this.#encodeMessage(message, offset);
      // The callbacks may unsubscribe: the message then is not delivered.
      if (encoded === undefined || !this.#active) return;
      message = encoded;
      size = measureMessage(message);
    }
    if (this.#skippedInARow > 0) {
      if (!this.queue.fits(size)) {
        this.#skip();
        return;
      }
      const missed = this.#skippedInARow;
      this.#skippedInARow = 0;
      try {
        this.#onSkip?.(missed, this);
      } catch (error) {
        this.queue.fail(callbackFailure("onSkip", describeError(error)));
        return;
      }
      if (!this.#active) return;
    }
    if (this.queue.offer(message, size) === "skipped") this.#skip();
  }

  /** Holds live messages until {@linkcode finishRecovery}. */
  startRecovery(): void {
    this.#held = [];
    this.#heldBytes = 0;
  }

  /** Delivers what was missed, then the live messages held meanwhile. */
  finishRecovery(recovered: RecoveredMessage[]): void {
    const held = this.#held;
    this.#held = null;
    if (held === null || !this.active) return;
    const seen = new Set<string>();
    for (const { offset, message } of recovered) {
      seen.add(offset);
      this.deliver(message, measureMessage(message), offset);
    }
    for (const { message, offset } of held) {
      if (offset !== undefined && seen.has(offset)) continue;
      this.deliver(message, measureMessage(message), offset);
    }
  }

  /**
   * What `encode` makes of a message, or `undefined` when it failed: the
   * subscriber then ends, as a full one does (and as when `onSkip` throws),
   * rather than the publisher or an engine's event handler getting the
   * error, or a size that is not a number unbounding the queue.
   */
  #encodeMessage(
    data: string | Uint8Array,
    offset: string | undefined,
  ): string | Uint8Array | undefined {
    let encoded: unknown;
    try {
      encoded = this.#encode!({ topic: this.topic, data, offset });
    } catch (error) {
      this.queue.fail(callbackFailure("encode", describeError(error)));
      return undefined;
    }
    if (typeof encoded === "string" || encoded instanceof Uint8Array) {
      return encoded;
    }
    this.queue.fail(
      callbackFailure(
        "encode",
        `it returned ${describeValue(encoded)}, not a string or a Uint8Array`,
      ),
    );
    return undefined;
  }

  #skip(): void {
    this.#skipped++;
    this.#skippedInARow++;
  }

  #hold(
    message: string | Uint8Array,
    size: number,
    offset: string | undefined,
  ): void {
    if (!this.#fitsBesideHeld(size)) {
      if (this.queue.policy === "skip") this.#skip();
      else this.queue.overflow();
      return;
    }
    this.#held!.push({ message, offset });
    this.#heldBytes += size;
  }

  /** Held messages count against the same bound as queued ones. */
  #fitsBesideHeld(size: number): boolean {
    return this.queue.fits(size, this.#heldBytes, this.#held!.length);
  }
}
