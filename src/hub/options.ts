/**
 * The options of a {@linkcode Hub}, of a subscription and of a publish, and
 * their defaults.
 *
 * @module
 */

import type { HubEngine, HubLossReport } from "./engine.ts";
import type { HubMessage, Subscription } from "./subscription.ts";

/**
 * The close code a subscriber's writable is aborted with when its queue is
 * full under the `"close"` policy: 4008, reason `"Subscriber too slow"`.
 *
 * @example Telling a dropped client why
 * ```ts
 * import { SLOW_SUBSCRIBER_CLOSE_CODE } from "@streams/websocket/hub";
 *
 * console.log(SLOW_SUBSCRIBER_CLOSE_CODE); // 4008
 * ```
 */
export const SLOW_SUBSCRIBER_CLOSE_CODE = 4008;

/** The reason that goes with {@linkcode SLOW_SUBSCRIBER_CLOSE_CODE}. */
export const SLOW_SUBSCRIBER_REASON = "Subscriber too slow";

/**
 * How many bytes of messages may wait for one writable by default: 1 MiB.
 *
 * @example Reading the default bound
 * ```ts
 * import { DEFAULT_MAX_QUEUED_BYTES } from "@streams/websocket/hub";
 *
 * console.log(DEFAULT_MAX_QUEUED_BYTES); // 1048576
 * ```
 */
export const DEFAULT_MAX_QUEUED_BYTES = 1024 * 1024;

/**
 * What happens to a subscriber whose queue has no room for a message:
 * - `"close"`: its writable is aborted with a `WebSocketError` carrying
 *   {@linkcode SLOW_SUBSCRIBER_CLOSE_CODE}, so a `WebSocketStream`'s
 *   writable closes the connection with that code, and the subscriber's
 *   subscriptions end;
 * - `"skip"`: the message is left out for it and counted in
 *   {@linkcode Subscription.skipped}; it gets messages again as soon as they
 *   fit, and {@linkcode SubscribeOptions.onSkip} is told how many it missed.
 *
 * @example Choosing the skip policy
 * ```ts
 * import type { SlowSubscriberPolicy } from "@streams/websocket/hub";
 *
 * const policy: SlowSubscriberPolicy = "skip";
 * ```
 */
export type SlowSubscriberPolicy = "close" | "skip";

/**
 * Options of the `Hub` constructor.
 *
 * @example A hub whose subscribers skip rather than close
 * ```ts
 * import { Hub, type HubOptions } from "@streams/websocket/hub";
 *
 * const options: HubOptions = { whenFull: "skip", maxQueuedBytes: 64 * 1024 };
 * const hub = new Hub(options);
 * await hub.close();
 * ```
 */
export interface HubOptions {
  /**
   * What carries messages to the other hubs (other workers, processes or
   * machines). Without one, messages stay in this hub. An engine serves one
   * hub at a time: each hub takes its own.
   */
  engine?: HubEngine;
  /**
   * The default of {@linkcode SubscribeOptions.maxQueuedBytes}, and the
   * longest message `publish()` takes: a longer one is a `RangeError`, as
   * delivering it would fill every queue of this bound at once.
   * @default {1048576}
   */
  maxQueuedBytes?: number;
  /** The default of {@linkcode SubscribeOptions.whenFull}. @default {"close"} */
  whenFull?: SlowSubscriberPolicy;
  /**
   * Told when the engine knows messages were lost (for instance published
   * while it was disconnected). Without it, each report is written to
   * `console.error`, so a loss is never silent; so is a report whose
   * `onLoss` throws, with the error.
   */
  onLoss?: (report: HubLossReport) => void;
}

/**
 * Options of `hub.subscribe()`. The queue bound and the policy belong to the
 * writable: they are taken from its first subscription, later ones share
 * that queue.
 *
 * @example Subscribing with offsets for recovery
 * ```ts
 * import { Hub, type SubscribeOptions } from "@streams/websocket/hub";
 *
 * const options: SubscribeOptions = {
 *   encode: ({ data, offset }) => JSON.stringify({ data, offset }),
 * };
 * const hub = new Hub();
 * hub.subscribe("news", new WritableStream(), options);
 * await hub.close();
 * ```
 */
export interface SubscribeOptions {
  /**
   * Bytes of messages (UTF-8 length of text, length of binary) handed to
   * this writable whose writes have not completed: for a `WebSocketStream`,
   * what waits for room in the connection's send buffer. That buffer, up to
   * the stream's `writeHighWaterMark`, comes on top: a client that stops
   * reading holds both in the server's memory (and then what the operating
   * system buffers) before its queue fills, so a server with many clients
   * may want a smaller `writeHighWaterMark` as well. A message longer than
   * the bound (one published by a hub whose bound is larger, or a bound
   * given here below the hub's) is never queued: the policy applies to it.
   * Each waiting message costs memory whatever its length, so at most one
   * per 128 bytes of the bound may wait (and at least 64): 8192 by default.
   * @default {1048576}
   */
  maxQueuedBytes?: number;
  /** What happens when the queue is full. @default {"close"} */
  whenFull?: SlowSubscriberPolicy;
  /**
   * Called under the `"skip"` policy when the subscriber has room again,
   * with how many messages of this subscription it missed in a row, right
   * before the next message is queued: a `subscription.send()` from here
   * arrives before that message. If it throws, the subscriber ends as when
   * `encode` fails.
   */
  onSkip?: (skipped: number, subscription: Subscription) => void;
  /**
   * Turns each message into what is written, for instance to add the
   * topic or the offset. Without it, the message is written as published
   * (a string or a `Uint8Array`), with no cost added. If it throws, or
   * returns anything else, the writable is aborted with a `WebSocketError`
   * carrying 1011 (a server stream closes its connection with it) and its
   * subscriptions end; the other subscribers get the message.
   */
  encode?: (message: HubMessage) => string | Uint8Array;
  /**
   * The last offset the subscriber saw (from `encode`'s `offset`): with an
   * engine that keeps history, what was published after it is delivered
   * first, and {@linkcode Subscription.recovery} says whether all of it
   * could be. What is recovered is queued at once and counts against
   * `maxQueuedBytes` like the rest: when what was missed is more than that,
   * none of it is read or delivered, and `recovery` says it was not
   * recovered (a client that asks for an old offset costs no more memory
   * than its queue).
   */
  since?: string;
}

/**
 * Options of `hub.publish()`.
 *
 * @example Leaving out the sender
 * ```ts
 * import { Hub } from "@streams/websocket/hub";
 *
 * const hub = new Hub();
 * const sender = new WritableStream();
 * hub.subscribe("room", sender);
 * hub.publish("room", "hello", { except: sender });
 * await hub.close();
 * ```
 */
export interface PublishOptions {
  /** A subscribed writable that does not get this message (the sender). */
  except?: WritableStream;
}
