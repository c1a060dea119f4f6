/**
 * The {@linkcode Hub}: publish a message once, every subscribed writable gets
 * it, each through its own bounded queue.
 *
 * @module
 */

import type { HubEngine, HubHistory, HubLossReport } from "./engine.ts";
import {
  createHubId,
  envelopeBodyLength,
  packEnvelope,
  sameHubId,
  unpackEnvelope,
} from "./envelope.ts";
import { describeError } from "../describe_error.ts";
import { measureMessage } from "./message_size.ts";
import {
  describeValue,
  readOptionsObject,
  validatePositiveInteger,
} from "../options.ts";
import {
  DEFAULT_MAX_QUEUED_BYTES,
  type HubOptions,
  type PublishOptions,
  type SlowSubscriberPolicy,
  type SubscribeOptions,
} from "./options.ts";
import { SubscriberQueue } from "./subscriber_queue.ts";
import {
  type HubRecovery,
  HubSubscription,
  type RecoveredMessage,
  type Subscription,
} from "./subscription.ts";

/** A subscribed writable: its queue and its subscriptions by topic. */
interface Subscriber {
  queue: SubscriberQueue;
  topics: Map<string, HubSubscription>;
}

/**
 * Fans messages out to many writables (a `WebSocketStream`'s writable per
 * client, or any sink), by topic. Publishing never waits: each writable has
 * its own queue, bounded in bytes; one that is full is closed with code
 * {@linkcode SLOW_SUBSCRIBER_CLOSE_CODE} or skipped, by policy. Every
 * subscriber gets each publisher's messages in the order they were
 * published. With an engine, hubs in other workers, processes or machines
 * share the topics.
 *
 * @example A chat room: every client gets what any client says
 * ```ts
 * import { upgradeWebSocketStream } from "@streams/websocket";
 * import { Hub } from "@streams/websocket/hub";
 *
 * const hub = new Hub();
 * const handler = (request: Request): Response => {
 *   const { response, stream } = upgradeWebSocketStream(request);
 *   stream?.opened.then(async ({ readable, writable }) => {
 *     hub.subscribe("room", writable);
 *     for await (const message of readable) {
 *       hub.publish("room", message, { except: writable });
 *     }
 *   }).catch(() => {});
 *   return response;
 * };
 * console.log(typeof handler); // "function"
 * await hub.close();
 * ```
 */
export class Hub {
  readonly #engine: HubEngine | undefined;
  readonly #id = createHubId();
  readonly #maxQueuedBytes: number;
  readonly #whenFull: SlowSubscriberPolicy;
  readonly #onLoss: (report: HubLossReport) => void;
  readonly #topics = new Map<string, Set<HubSubscription>>();
  readonly #subscribers = new Map<WritableStream, Subscriber>();
  #nextQueueId = 1;
  #closed: Promise<void> | undefined;

  /**
   * Creates a hub, in-process unless `options.engine` is given.
   *
   * @example A hub shared by the workers of `deno serve --parallel`
   * ```ts
   * import { BroadcastChannelEngine, Hub } from "@streams/websocket/hub";
   *
   * const hub = new Hub({ engine: new BroadcastChannelEngine() });
   * // The open channel would keep `deno serve` running after Ctrl-C.
   * Deno.addSignalListener("SIGINT", () => hub.close());
   * ```
   *
   * @throws {TypeError} When an option has the wrong type.
   * @throws {RangeError} When `maxQueuedBytes` is not a positive integer.
   * @throws {DOMException} `InvalidStateError` when `options.engine` is in
   *   use by another hub that is not closed, or cannot open again (a closed
   *   `RedisEngine`).
   */
  constructor(options: HubOptions = {}) {
    options = readOptionsObject(options, CONSTRUCT);
    const engine = validateEngine(options.engine);
    this.#maxQueuedBytes = validatePositiveInteger(
      options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
      "maxQueuedBytes",
      CONSTRUCT,
    );
    this.#whenFull = validatePolicy(
      options.whenFull ?? "close",
      CONSTRUCT,
    );
    this.#onLoss = options.onLoss ??
      ((report) => console.error(describeLoss(report)));
    if (engine !== undefined) {
      if (enginesInUse.has(engine)) {
        throw new DOMException(
          `${CONSTRUCT}: the engine is already used by another hub`,
          "InvalidStateError",
        );
      }
    }
    this.#engine = engine;
    this.#engine?.open({
      receive: (topic, payload, offset) =>
        this.#receive(topic, payload, offset),
      lost: (report) => this.#reportLoss(report),
    });
    if (engine !== undefined) enginesInUse.add(engine);
  }

  /**
   * Sends `writable` every message published on `topic` from now on (or
   * from `options.since`, with an engine that keeps history). The hub holds
   * the writable's lock until its last subscription ends: by
   * `unsubscribe()`, by `hub.close()`, or by itself when the writable closes
   * or errors.
   *
   * @example Two topics, one queue
   * ```ts
   * import { Hub } from "@streams/websocket/hub";
   *
   * const hub = new Hub();
   * const received: unknown[] = [];
   * const writable = new WritableStream({ write: (m) => void received.push(m) });
   * hub.subscribe("a", writable);
   * hub.subscribe("b", writable);
   * hub.publish("a", "one");
   * hub.publish("b", "two");
   * await hub.close();
   * // The hub left the writable open; closing it waits for what it holds.
   * await writable.close();
   * console.log(received); // ["one", "two"]
   * ```
   *
   * @throws {TypeError} When `topic` is not a string, `writable` not a
   *   `WritableStream` or locked by someone else, or an option is wrong.
   * @throws {RangeError} When `maxQueuedBytes` is not a positive integer.
   * @throws {DOMException} `InvalidStateError` when the hub is closed or the
   *   writable is already subscribed to `topic`.
   */
  subscribe(
    topic: string,
    writable: WritableStream,
    options: SubscribeOptions = {},
  ): Subscription {
    const context = "Cannot subscribe";
    this.#checkOpen(context);
    validateTopic(topic, context);
    if (!(writable instanceof WritableStream)) {
      throw new TypeError(
        `${context}: the writable must be a WritableStream, received ${writable}`,
      );
    }
    // Checked before the writable is taken: a wrong one would otherwise
    // throw from every later publish() on the topic.
    options = readOptionsObject(options, context);
    validateOptional(options.encode, "function", "encode", context);
    validateOptional(options.onSkip, "function", "onSkip", context);
    validateOptional(options.since, "string", "since", context);
    const subscriber = this.#subscriberOf(writable, options);
    if (subscriber.topics.has(topic)) {
      throw new DOMException(
        `${context}: the writable is already subscribed to "${topic}"`,
        "InvalidStateError",
      );
    }
    const subscription = new HubSubscription(
      topic,
      writable,
      subscriber.queue,
      options,
      (ended) => this.#remove(ended),
    );
    subscriber.topics.set(topic, subscription);
    let followers = this.#topics.get(topic);
    if (followers === undefined) {
      followers = new Set();
      this.#topics.set(topic, followers);
      this.#engine?.follow(topic);
    }
    followers.add(subscription);
    if (options.since !== undefined) {
      subscription.recovery = this.#recover(subscription, options.since);
    }
    return subscription;
  }

  /**
   * Publishes `message` (a string is sent as text, a `Uint8Array` as binary)
   * on `topic`, and returns at once.
   *
   * @example Publishing to everyone but the sender
   * ```ts
   * import { Hub } from "@streams/websocket/hub";
   *
   * const hub = new Hub();
   * const sender = new WritableStream();
   * hub.subscribe("room", sender);
   * hub.publish("room", new Uint8Array([1, 2, 3]), { except: sender });
   * await hub.close();
   * ```
   *
   * @throws {TypeError} When `topic` is not a string, `message` neither a
   *   string nor a `Uint8Array`, or `options.except` not a `WritableStream`.
   * @throws {RangeError} When `message` is longer than the hub's
   *   `maxQueuedBytes` (UTF-8 length of text): no queue of that bound could
   *   take it, so it is refused before any subscriber or engine sees it.
   * @throws {DOMException} `InvalidStateError` when the hub is closed.
   */
  publish(
    topic: string,
    message: string | Uint8Array,
    options: PublishOptions = {},
  ): void {
    const context = "Cannot publish";
    this.#checkOpen(context);
    validateTopic(topic, context);
    options = readOptionsObject(options, context);
    if (typeof message !== "string" && !(message instanceof Uint8Array)) {
      throw new TypeError(
        `${context}: the message must be a string or a Uint8Array, received ${
          Object.prototype.toString.call(message)
        }`,
      );
    }
    const { except: sender } = options;
    // A stream passed for its writable would leave nobody out.
    if (sender !== undefined && !(sender instanceof WritableStream)) {
      throw new TypeError(
        `${context}: options.except must be a WritableStream, received ${
          describeValue(sender)
        }`,
      );
    }
    const except = sender === undefined
      ? 0
      : this.#subscribers.get(sender)?.queue.id ?? 0;
    if (this.#engine === undefined) {
      const size = measureMessage(message);
      this.#refuseLongerThanBound(size, context);
      this.#deliver(topic, message, size, except, undefined);
    } else {
      // Packing encodes the text already: its body's length is the size.
      const envelope = packEnvelope(message, this.#id, except);
      this.#refuseLongerThanBound(envelopeBodyLength(envelope), context);
      this.#engine.publish(topic, envelope);
    }
  }

  /**
   * A message longer than the hub's bound would fill every queue of that
   * bound at once and close (or skip) them all, for one publisher's message.
   */
  #refuseLongerThanBound(size: number, context: string): void {
    if (size > this.#maxQueuedBytes) {
      throw new RangeError(
        `${context}: the message is ${size} bytes, more than maxQueuedBytes (${this.#maxQueuedBytes})`,
      );
    }
  }

  /**
   * Ends every subscription (the writables are released, left open, and
   * still send what they were handed) and closes the engine. Idempotent.
   *
   * @example Closing
   * ```ts
   * import { Hub } from "@streams/websocket/hub";
   *
   * const hub = new Hub();
   * await hub.close();
   * ```
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const { queue } of [...this.#subscribers.values()]) queue.release();
      this.#subscribers.clear();
      this.#topics.clear();
      if (this.#engine === undefined) return;
      try {
        await this.#engine.close();
      } finally {
        enginesInUse.delete(this.#engine);
      }
    })();
    return this.#closed;
  }

  /**
   * Tells `onLoss`. Engines report from their event and promise handlers,
   * where a throw would end the process: an `onLoss` that throws has the
   * loss and its error written to `console.error` instead, so the loss is
   * still not silent.
   */
  #reportLoss(report: HubLossReport): void {
    try {
      this.#onLoss(report);
    } catch (error) {
      console.error(
        `${describeLoss(report)}; onLoss threw: ${describeError(error)}`,
      );
    }
  }

  #checkOpen(context: string): void {
    if (this.#closed !== undefined) {
      throw new DOMException(
        `${context}: the hub is closed`,
        "InvalidStateError",
      );
    }
  }

  #subscriberOf(
    writable: WritableStream,
    options: SubscribeOptions,
  ): Subscriber {
    const known = this.#subscribers.get(writable);
    if (known !== undefined) return known;
    const context = "Cannot subscribe";
    const maxBytes = validatePositiveInteger(
      options.maxQueuedBytes ?? this.#maxQueuedBytes,
      "maxQueuedBytes",
      context,
    );
    const policy = validatePolicy(options.whenFull ?? this.#whenFull, context);
    if (writable.locked) {
      throw new TypeError(`${context}: the writable is locked`);
    }
    const subscriber: Subscriber = {
      queue: new SubscriberQueue(
        this.#nextQueueId++,
        writable,
        maxBytes,
        policy,
        () => this.#drop(writable),
      ),
      topics: new Map(),
    };
    this.#subscribers.set(writable, subscriber);
    return subscriber;
  }

  /** The writable ended: all its subscriptions go. */
  #drop(writable: WritableStream): void {
    const subscriber = this.#subscribers.get(writable);
    if (subscriber === undefined) return;
    this.#subscribers.delete(writable);
    for (const subscription of subscriber.topics.values()) {
      subscription.unsubscribe();
    }
  }

  #remove(subscription: HubSubscription): void {
    const followers = this.#topics.get(subscription.topic);
    if (followers?.delete(subscription) && followers.size === 0) {
      this.#topics.delete(subscription.topic);
      this.#engine?.unfollow(subscription.topic);
    }
    const subscriber = this.#subscribers.get(subscription.writable);
    if (subscriber === undefined) return;
    subscriber.topics.delete(subscription.topic);
    if (subscriber.topics.size === 0) {
      this.#subscribers.delete(subscription.writable);
      subscriber.queue.release();
    }
  }

  #receive(topic: string, payload: Uint8Array, offset?: string): void {
    const envelope = unpackEnvelope(payload);
    if (envelope === undefined) return;
    const except = sameHubId(envelope.origin, this.#id) ? envelope.except : 0;
    const { message } = envelope;
    this.#deliver(topic, message, measureMessage(message), except, offset);
  }

  #deliver(
    topic: string,
    message: string | Uint8Array,
    size: number,
    except: number,
    offset: string | undefined,
  ): void {
    const followers = this.#topics.get(topic);
    if (followers === undefined) return;
    for (const subscription of followers) {
      if (subscription.queue.id !== except) {
        subscription.deliver(message, size, offset);
      }
    }
  }

  async #recover(
    subscription: HubSubscription,
    since: string,
  ): Promise<HubRecovery> {
    const history = this.#engine?.history;
    if (history === undefined) return { recovered: false, count: 0 };
    subscription.startRecovery();
    // Engines promise never to reject; one that does must not leave the
    // subscription holding live messages back for ever.
    const kept = await history.call(
      this.#engine,
      subscription.topic,
      since,
      subscription.queue.maxBytes,
      subscription.queue.maxMessages,
    ).catch((): HubHistory => ({ recovered: false, messages: [] }));
    const missed: RecoveredMessage[] = [];
    for (const { offset, payload } of kept.messages) {
      const envelope = unpackEnvelope(payload);
      if (envelope !== undefined) {
        missed.push({ offset, message: envelope.message });
      }
    }
    subscription.finishRecovery(missed);
    return { recovered: kept.recovered, count: missed.length };
  }
}

const CONSTRUCT = "Cannot construct Hub";

function describeLoss(report: HubLossReport): string {
  return `Hub: lost ${
    report.count ?? "an unknown number of"
  } messages (${report.reason})`;
}

/** The engines a hub has opened and not yet closed: one hub each. */
const enginesInUse = new WeakSet<HubEngine>();

function validateEngine(engine: unknown): HubEngine | undefined {
  if (engine === undefined) return undefined;
  const methods = ["open", "publish", "follow", "unfollow", "close"] as const;
  if (
    typeof engine !== "object" || engine === null ||
    methods.some((name) =>
      typeof (engine as Record<string, unknown>)[name] !== "function"
    )
  ) {
    throw new TypeError(
      `${CONSTRUCT}: options.engine must be a HubEngine, received ${
        describeValue(engine)
      }`,
    );
  }
  return engine as HubEngine;
}

function validateTopic(topic: unknown, context: string): void {
  if (typeof topic !== "string") {
    throw new TypeError(
      `${context}: the topic must be a string, received ${
        describeValue(topic)
      }`,
    );
  }
}

/** Throws a TypeError unless `value` is `undefined` or of type `type`. */
function validateOptional(
  value: unknown,
  type: "function" | "string",
  name: string,
  context: string,
): void {
  if (value !== undefined && typeof value !== type) {
    throw new TypeError(
      `${context}: options.${name} must be a ${type}, received ${
        describeValue(value)
      }`,
    );
  }
}

function validatePolicy(value: unknown, context: string): SlowSubscriberPolicy {
  if (value !== "close" && value !== "skip") {
    throw new TypeError(
      `${context}: whenFull must be "close" or "skip", received ${value}`,
    );
  }
  return value;
}
