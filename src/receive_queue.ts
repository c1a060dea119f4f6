/**
 * What messages waiting for the reader count against a receive limit, and
 * where they wait: the core's queue over a transport that can pause, the
 * readable's own over one that cannot.
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

/**
 * A first-in first-out queue of messages that counts their bytes. It has no
 * limit: the transport that fills it is paused once it holds enough.
 */
export class ReceiveQueue {
  // Two stacks: amortised O(1) push and shift at any length. Made on first
  // use, as most connections are read as fast as messages arrive.
  #incoming: Message[] | undefined;
  #outgoing: Message[] | undefined;
  #bytes = 0;

  /** How many messages are queued. */
  get length(): number {
    return (this.#incoming?.length ?? 0) + (this.#outgoing?.length ?? 0);
  }

  /** What the queued messages count against the limit. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues `message`. */
  push(message: Message): void {
    this.#bytes += queuedSize(message);
    (this.#incoming ??= []).push(message);
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

/**
 * What the messages in a readable's own queue count against a receive
 * limit, where the stream, not the core, holds them. The stream tells only
 * how many it holds (minus its `desiredSize`) and gives them out oldest
 * first, so the sizes of those that went in, in order, tell which are still
 * there.
 */
export class StreamQueueSizes {
  /**
   * The sizes of the messages that went in behind another since the stream
   * was last empty (a new ledger is made then), oldest first from `#head`.
   * The one they went in behind is the last message that went into the
   * empty stream.
   */
  #behind: number[] = [];
  #head = 0;
  /** The sum of `#behind` from `#head` on. */
  #bytes = 0;

  /**
   * What the messages behind the oldest count when the stream holds `count`
   * messages (at least one): the oldest is outside the limit, as it is what
   * a stream with room for one message would hold.
   */
  behindOldest(count: number): number {
    const behind = this.#behind;
    // The stream holds the message the others went in behind, and them.
    if (count > behind.length - this.#head) return this.#bytes;
    // Or only the newest of them: the oldest of those now takes its place.
    while (behind.length - this.#head >= count) {
      this.#bytes -= behind[this.#head++]!;
    }
    if (this.#head > 1024 && this.#head * 2 > behind.length) {
      behind.splice(0, this.#head);
      this.#head = 0;
    }
    return this.#bytes;
  }

  /** Notes that a message of `size` went in behind another. */
  enteredBehind(size: number): void {
    this.#behind.push(size);
    this.#bytes += size;
  }
}
