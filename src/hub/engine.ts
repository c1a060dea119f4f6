/**
 * The interface between a {@linkcode Hub} and what carries its messages to
 * other hubs: an engine moves bytes on topics and knows nothing of
 * subscribers, queues or WebSockets.
 *
 * @module
 */

/**
 * What an engine reports to its hub.
 *
 * @example A receiver that prints what arrives
 * ```ts
 * import type { HubEngineReceiver } from "@streams/websocket/hub";
 *
 * const receiver: HubEngineReceiver = {
 *   receive: (topic, payload) => console.log(topic, payload.length),
 *   lost: (report) => console.error(report),
 * };
 * ```
 */
export interface HubEngineReceiver {
  /**
   * A message published on a followed topic, by any hub, this one
   * included, in the order the engine carries them. `offset` is given by
   * engines that keep history.
   */
  receive(topic: string, payload: Uint8Array, offset?: string): void;
  /** Messages the engine knows it lost. */
  lost(report: HubLossReport): void;
}

/**
 * A loss an engine reports: how many messages and why. `count` is `null`
 * when the engine cannot know how many (messages other hubs published while
 * this one was disconnected).
 *
 * @example Logging a loss
 * ```ts
 * import { Hub, type HubLossReport } from "@streams/websocket/hub";
 *
 * const hub = new Hub({
 *   onLoss: (report: HubLossReport) =>
 *     console.warn(`lost ${report.count ?? "some"}: ${report.reason}`),
 * });
 * await hub.close();
 * ```
 */
export interface HubLossReport {
  /** Why: `"published while disconnected"`, `"received while disconnected"`... */
  reason: string;
  /** How many messages, or `null` when unknown. */
  count: number | null;
  /** The topic, when the loss concerns one. */
  topic?: string;
  /** When the engine lost its connection (ms since the epoch). */
  since?: number;
  /** When it was back (ms since the epoch). */
  until?: number;
}

/**
 * The messages an engine kept after an offset, for recovery: `recovered` is
 * `false` when some of them are no longer kept (the window is gone), or when
 * they are more than the subscriber could hold, and then `messages` is
 * empty.
 *
 * @example A full recovery of nothing
 * ```ts
 * import type { HubHistory } from "@streams/websocket/hub";
 *
 * const history: HubHistory = { recovered: true, messages: [] };
 * ```
 */
export interface HubHistory {
  /** Whether every message after the offset is still kept. */
  recovered: boolean;
  /** The messages after the offset, oldest first. */
  messages: { offset: string; payload: Uint8Array }[];
}

/**
 * What carries a hub's messages to other hubs. An engine delivers every
 * message published through it to every hub that follows the topic, the
 * publishing hub included, each publisher's messages in order.
 *
 * @example An engine that only loops back (what a hub does without one)
 * ```ts
 * import { Hub, type HubEngine, type HubEngineReceiver } from "@streams/websocket/hub";
 *
 * class LoopbackEngine implements HubEngine {
 *   #receiver: HubEngineReceiver | undefined;
 *   #topics = new Set<string>();
 *   open(receiver: HubEngineReceiver) {
 *     this.#receiver = receiver;
 *   }
 *   publish(topic: string, payload: Uint8Array) {
 *     if (this.#topics.has(topic)) this.#receiver?.receive(topic, payload);
 *   }
 *   follow(topic: string) {
 *     this.#topics.add(topic);
 *   }
 *   unfollow(topic: string) {
 *     this.#topics.delete(topic);
 *   }
 *   async close() {}
 * }
 * const hub = new Hub({ engine: new LoopbackEngine() });
 * await hub.close();
 * ```
 */
export interface HubEngine {
  /** Called once by the hub that uses this engine, before anything else. */
  open(receiver: HubEngineReceiver): void;
  /** Sends `payload` to every hub following `topic`. Returns at once. */
  publish(topic: string, payload: Uint8Array): void;
  /** Starts delivering `topic`'s messages to this hub. */
  follow(topic: string): void;
  /** Stops delivering `topic`'s messages to this hub. */
  unfollow(topic: string): void;
  /**
   * What was published on `topic` after `offset`, for engines that keep
   * history. Never rejects: a failure is `recovered: false`. The
   * subscriber's queue holds messages of at most `maxBytes` in all, and at
   * most `maxMessages` of them: past either the messages could not all be
   * delivered, so an engine stops reading there and answers
   * `recovered: false` rather than hold a history of any length in memory.
   */
  history?(
    topic: string,
    offset: string,
    maxBytes: number,
    maxMessages: number,
  ): Promise<HubHistory>;
  /** Stops the engine and releases its connections. */
  close(): Promise<void>;
}
