/**
 * The bounded queue between the socket, which cannot be paused, and the
 * readable, which is read at the application's pace.
 *
 * @module
 */

import { type Message, messageSize } from "./message.ts";

/**
 * What each queued message costs beyond its payload, so that a flood of empty
 * messages is bounded too.
 */
export const MESSAGE_OVERHEAD_BYTES = 64;

/** What `message` counts against a receive limit. */
export function queuedSize(message: Message): number {
  return messageSize(message) + MESSAGE_OVERHEAD_BYTES;
}

/** A first-in first-out queue of messages that refuses to grow past a byte limit. */
export class ReceiveQueue {
  // Two stacks: amortised O(1) push and shift at any length. Made on first
  // use, as most connections are read as fast as messages arrive.
  #incoming: Message[] | undefined;
  #outgoing: Message[] | undefined;
  #bytes = 0;
  readonly #limit: number;

  /** @param limit The most bytes the queue may hold. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** How many messages are queued. */
  get length(): number {
    return (this.#incoming?.length ?? 0) + (this.#outgoing?.length ?? 0);
  }

  /** What the queued messages count against the limit. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues `message`, or returns `false` when it would exceed the limit. */
  push(message: Message): boolean {
    const cost = queuedSize(message);
    if (this.#bytes + cost > this.#limit) return false;
    this.#bytes += cost;
    (this.#incoming ??= []).push(message);
    return true;
  }

  /** Takes the oldest message, if any. */
  shift(): Message | undefined {
    if (!this.#outgoing?.length) {
      // The emptied array takes the incoming side: a reader one message
      // behind would otherwise cost an array per message.
      const emptied = this.#outgoing;
      this.#outgoing = this.#incoming?.reverse();
      this.#incoming = emptied;
    }
    const message = this.#outgoing?.pop();
    if (message !== undefined) {
      this.#bytes -= queuedSize(message);
    }
    return message;
  }

  /** Drops every queued message. */
  clear(): void {
    this.#incoming = undefined;
    this.#outgoing = undefined;
    this.#bytes = 0;
  }
}
