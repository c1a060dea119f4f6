/**
 * The {@linkcode RedisEngine}: hubs in any number of processes and machines
 * share their topics through one Redis, over Pub/Sub, with optional history
 * in Redis Streams for recovery.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createClient, RESP_TYPES } from "redis";
import {
  describeValue,
  readOptionsObject,
  validatePositiveInteger,
} from "../options.ts";
import type {
  HubEngine,
  HubEngineReceiver,
  HubHistory,
  HubLossReport,
} from "./engine.ts";

/**
 * Options of {@linkcode RedisEngine}.
 *
 * @example Keeping the last 10,000 messages of each topic for recovery
 * ```ts
 * import type { RedisEngineOptions } from "@streams/websocket/hub/redis";
 *
 * const options: RedisEngineOptions = {
 *   url: "redis://127.0.0.1:6379",
 *   history: { maxLength: 10_000 },
 * };
 * ```
 */
export interface RedisEngineOptions {
  /** Where Redis is, as `redis[s]://[[user][:password]@]host[:port][/db]`. */
  url: string;
  /** The prefix of the channels and stream keys. @default {"hub:"} */
  prefix?: string;
  /**
   * Keep each topic's recent messages in a Redis Stream (`XADD` with
   * `MAXLEN ~ maxLength`, so Redis trims to about that many), which gives
   * every message an offset and lets a subscriber pass `since` to get what
   * it missed. Without it, Pub/Sub alone: nothing is kept.
   */
  history?: { maxLength: number };
  /**
   * The most bytes of published messages waiting for Redis to take them. A
   * Redis that stops answering without dropping the connection (busy, or a
   * stalled network) would otherwise have them pile up in this process:
   * past the bound, messages are dropped instead, and the hub's `onLoss` is
   * told how many (`"published while Redis was behind"`) once half of the
   * backlog has gone. A single message longer than the bound is sent when
   * nothing else waits. Each message counts 1 KiB more than its length,
   * about what a command waiting in the client costs, so that a flood of
   * empty or tiny messages is bounded too.
   *
   * @default {16777216} 16 MiB
   */
  maxPendingBytes?: number;
  /**
   * How long `close()` waits, in milliseconds, for Redis to take what was
   * published before it. A Redis that stalled, or one that is down, would
   * otherwise hold `close()` (and `hub.close()`) for as long as it lasts:
   * what is still unanswered then is dropped, and the hub's `onLoss` is told
   * how many (`"not answered before close"`).
   *
   * @default {5000}
   */
  closeTimeout?: number;
}

/** See {@linkcode RedisEngineOptions.maxPendingBytes}. */
const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;

/**
 * What a published message waiting for Redis costs beyond its bytes (the
 * command, its promise, the client's queue entry), about; see
 * {@linkcode RedisEngineOptions.maxPendingBytes}.
 */
const PENDING_OVERHEAD_BYTES = 1024;

/** See {@linkcode RedisEngineOptions.closeTimeout}. */
const DEFAULT_CLOSE_TIMEOUT = 5000;

const CONSTRUCT = "Cannot construct RedisEngine";

/** Checks `url` as the client's constructor checks its URL. */
function validateRedisUrl(url: unknown): void {
  if (typeof url !== "string") {
    throw new TypeError(
      `${CONSTRUCT}: options.url must be a string, received ${
        describeValue(url)
      }`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DOMException(`${CONSTRUCT}: invalid URL "${url}"`, "SyntaxError");
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new DOMException(
      `${CONSTRUCT}: URL scheme must be redis or rediss, received "${
        parsed.protocol.slice(0, -1)
      }"`,
      "SyntaxError",
    );
  }
}

/** How long to wait between reconnection attempts, at most. */
const MAX_RECONNECT_DELAY_MS = 1000;

// Appends to the topic's stream and publishes the offset with the message,
// in one step, so the order of offsets is the order of delivery.
const APPEND_AND_PUBLISH = `
local offset = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[1])
redis.call('PUBLISH', KEYS[1], offset .. '\\n' .. ARGV[1])
return offset`;

// The entries after ARGV[1], read a page at a time, as long as their
// payloads add up to at most ARGV[2] bytes and they number at most ARGV[3],
// a hub queue's two bounds: false when ARGV[1] is no longer kept, -1 when
// they are more than that, else the entries. Only what a subscriber can
// hold leaves Redis, whatever the offset asked for.
const READ_HISTORY = `
local from = ARGV[1]
local first = redis.call('XRANGE', KEYS[1], from, from, 'COUNT', 1)
if #first == 0 or first[1][1] ~= from then return false end
local budget = tonumber(ARGV[2])
local room = tonumber(ARGV[3])
local entries = {}
while true do
  local page = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 100)
  local fresh = 0
  for _, entry in ipairs(page) do
    if entry[1] ~= from then
      fresh = fresh + 1
      budget = budget - #entry[2][2]
      room = room - 1
      if budget < 0 or room < 0 then return -1 end
      entries[#entries + 1] = entry
    end
  end
  if fresh == 0 then return entries end
  from = page[#page][1]
end`;

const NEWLINE = 0x0a;
/** Replies as bytes: messages may be binary. */
const BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer };
const latin1 = new TextDecoder("latin1");

/**
 * An engine over Redis (node-redis): every hub on the same Redis and
 * `prefix` gets every message of the topics it follows, each publisher's in
 * order. Two connections: one publishes, one follows.
 *
 * Losses are reported, never silent: while Redis is unreachable the engine
 * keeps reconnecting and the subscriptions are restored when it is back;
 * what this hub published meanwhile is dropped (not buffered: memory stays
 * bounded) and counted, and once reconnected the hub's `onLoss` is told
 * that count (`"published while disconnected"`) and that messages of other
 * hubs may have been missed (`"not received while disconnected"`, count
 * `null`, with `since` and `until`). With `history`, a client recovers those
 * itself by subscribing again with `since`. A Redis that stays connected
 * but falls behind is bounded the same way (see `maxPendingBytes`).
 *
 * @example Two processes, one room
 * ```ts ignore
 * import { Hub } from "@streams/websocket/hub";
 * import { RedisEngine } from "@streams/websocket/hub/redis";
 *
 * const engine = new RedisEngine({ url: "redis://127.0.0.1:6379" });
 * const hub = new Hub({
 *   engine,
 *   onLoss: (report) => console.warn("lost", report.count, report.reason),
 * });
 * await engine.ready;
 * hub.publish("room", "hello from this process");
 * await hub.close();
 * ```
 */
export class RedisEngine implements HubEngine {
  /**
   * Resolves once both connections are up for the first time. Messages
   * published before are dropped and reported like those published while
   * disconnected. Never rejects: it waits through reconnection attempts,
   * silently, so an unreachable `url` keeps it pending; bound the wait
   * where a startup must fail, e.g. with `AbortSignal.timeout()`.
   */
  readonly ready: Promise<void>;
  readonly #prefix: string;
  readonly #maxLength: number | undefined;
  readonly #maxPendingBytes: number;
  /** Bytes of published messages Redis has not answered yet. */
  #pendingBytes = 0;
  /** How many published messages Redis has not answered yet. */
  #pendingCount = 0;
  /** Resolved when nothing published waits for Redis; set by `close()`. */
  #allAnswered: PromiseWithResolvers<void> | undefined;
  readonly #closeTimeout: number;
  /** Set when `close()` dropped the connections: it counted what was lost. */
  #destroyed = false;
  #droppedWhileBehind = 0;
  readonly #publisher;
  readonly #subscriber;
  readonly #following = new Map<string, Promise<void>>();
  readonly #markReady: () => void;
  #receiver: HubEngineReceiver | undefined;
  #connected = false;
  #downSince: number | undefined;
  #droppedWhileDown = 0;
  #closed = false;

  /**
   * Creates the engine; it connects when a hub takes it.
   *
   * @example Creating one
   * ```ts
   * import { RedisEngine } from "@streams/websocket/hub/redis";
   *
   * const engine = new RedisEngine({ url: "redis://127.0.0.1:6379" });
   * await engine.close();
   * ```
   *
   * @throws {TypeError} When `options` is not an object or `url` not a
   *   string.
   * @throws {DOMException} `SyntaxError` when `url` does not parse or its
   *   scheme is not `redis` or `rediss`.
   * @throws {TypeError} When `history.maxLength`, `maxPendingBytes` or
   *   `closeTimeout` is not a number.
   * @throws {RangeError} When `history.maxLength`, `maxPendingBytes` or
   *   `closeTimeout` is not a positive integer.
   */
  constructor(options: RedisEngineOptions) {
    validateRedisUrl(readOptionsObject(options, CONSTRUCT).url);
    const { history, maxPendingBytes, closeTimeout } = options;
    this.#maxLength = history?.maxLength === undefined
      ? undefined
      : validatePositiveInteger(
        history.maxLength,
        "history.maxLength",
        CONSTRUCT,
      );
    this.#maxPendingBytes = validatePositiveInteger(
      maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES,
      "maxPendingBytes",
      CONSTRUCT,
    );
    this.#closeTimeout = validatePositiveInteger(
      closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
      "closeTimeout",
      CONSTRUCT,
    );
    this.#prefix = options.prefix ?? "hub:";
    const socket = {
      reconnectStrategy: (retries: number) =>
        Math.min(50 * 2 ** Math.min(retries, 5), MAX_RECONNECT_DELAY_MS),
    };
    this.#publisher = createClient({
      url: options.url,
      socket,
      // Commands are not held while disconnected: memory stays bounded and
      // a failed publish is counted as lost.
      disableOfflineQueue: true,
    });
    this.#subscriber = createClient({ url: options.url, socket });
    const { promise, resolve } = Promise.withResolvers<void>();
    this.ready = promise;
    this.#markReady = resolve;
  }

  /**
   * Connects and delivers to `receiver`.
   *
   * @throws {DOMException} `InvalidStateError` when the engine was closed:
   *   its connections are gone, and a hub on it would lose every message.
   */
  open(receiver: HubEngineReceiver): void {
    if (this.#closed) {
      throw new DOMException(
        "Cannot open RedisEngine: it is closed; make a new one",
        "InvalidStateError",
      );
    }
    this.#receiver = receiver;
    for (const client of [this.#publisher, this.#subscriber]) {
      client.on("error", () => this.#down());
      client.on("reconnecting", () => this.#down());
      client.on("ready", () => this.#up());
      // Failures are retried by reconnectStrategy and seen through events.
      client.connect().catch(() => {});
    }
  }

  /** Publishes on Redis; dropped and counted while disconnected. */
  publish(topic: string, payload: Uint8Array): void {
    if (this.#closed) return;
    if (!this.#connected) {
      this.#droppedWhileDown++;
      return;
    }
    const size = payload.byteLength + PENDING_OVERHEAD_BYTES;
    if (
      this.#pendingBytes > 0 &&
      this.#pendingBytes + size > this.#maxPendingBytes
    ) {
      this.#droppedWhileBehind++;
      return;
    }
    this.#pendingBytes += size;
    this.#pendingCount++;
    const key = this.#prefix + topic;
    const data = Buffer.from(
      payload.buffer,
      payload.byteOffset,
      payload.byteLength,
    );
    const sent = this.#maxLength === undefined
      ? this.#publisher.sendCommand(["PUBLISH", key, data])
      : this.#publisher.sendCommand([
        "EVAL",
        APPEND_AND_PUBLISH,
        "1",
        key,
        data,
        String(this.#maxLength),
      ]);
    sent.then(() => this.#answered(size), () => {
      this.#answered(size);
      if (this.#destroyed) return;
      if (this.#connected || this.#closed) {
        this.#lost({ reason: "publish failed", count: 1, topic });
      } else this.#droppedWhileDown++;
    });
  }

  /** Redis answered a publish of `size` bytes. */
  #answered(size: number): void {
    this.#pendingBytes -= size;
    this.#pendingCount--;
    if (this.#pendingCount === 0) this.#allAnswered?.resolve();
    if (this.#pendingBytes <= this.#maxPendingBytes / 2) {
      this.#reportDroppedWhileBehind();
    }
  }

  #reportDroppedWhileBehind(): void {
    const count = this.#droppedWhileBehind;
    if (count === 0) return;
    this.#droppedWhileBehind = 0;
    this.#lost({ reason: "published while Redis was behind", count });
  }

  /** Subscribes to the topic's channel. */
  follow(topic: string): void {
    const channel = this.#prefix + topic;
    const withOffsets = this.#maxLength !== undefined;
    const subscribed = this.#subscriber.subscribe(
      channel,
      (message: Buffer) => {
        if (!this.#following.has(topic)) return;
        if (!withOffsets) {
          this.#receiver?.receive(topic, message);
          return;
        }
        const split = message.indexOf(NEWLINE);
        if (split < 0) return;
        this.#receiver?.receive(
          topic,
          message.subarray(split + 1),
          latin1.decode(message.subarray(0, split)),
        );
      },
      true,
    ).catch(() => {
      // Not connected yet, or closed: node-redis subscribes again on connect.
    });
    this.#following.set(topic, subscribed);
  }

  /** Unsubscribes from the topic's channel. */
  unfollow(topic: string): void {
    this.#following.delete(topic);
    if (this.#closed) return;
    this.#subscriber.unsubscribe(this.#prefix + topic).catch(() => {});
  }

  /**
   * The messages kept after `offset` (with `history` only): `recovered` is
   * `false` when `offset` itself is no longer kept, so some may be gone, or
   * when they are more than `maxBytes` in all or more than `maxMessages`.
   */
  async history(
    topic: string,
    offset: string,
    maxBytes: number,
    maxMessages: number,
  ): Promise<HubHistory> {
    const notRecovered = { recovered: false, messages: [] };
    if (this.#maxLength === undefined) return notRecovered;
    try {
      // Followed first, so nothing falls between the history and the live.
      await this.#following.get(topic);
      const entries = await this.#publisher.sendCommand(
        [
          "EVAL",
          READ_HISTORY,
          "1",
          this.#prefix + topic,
          offset,
          String(maxBytes),
          String(maxMessages),
        ],
        { typeMapping: BUFFERS },
      ) as [Buffer, Buffer[]][] | number | null;
      if (!Array.isArray(entries)) return notRecovered;
      return {
        recovered: true,
        messages: entries.map(([id, fields]) => ({
          offset: latin1.decode(id),
          payload: fields[1]!,
        })),
      };
    } catch {
      return notRecovered;
    }
  }

  /**
   * Closes both connections, once Redis has taken what was published or
   * `closeTimeout` has passed; reports what it did not take, and what was
   * dropped while disconnected, to the hub's `onLoss`.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#reportDroppedWhileBehind();
    this.#closed = true;
    this.#markReady();
    const droppedWhileDown = this.#droppedWhileDown;
    this.#droppedWhileDown = 0;
    if (droppedWhileDown > 0) {
      // No reconnection will report them now.
      this.#lost({
        reason: "published while disconnected",
        count: droppedWhileDown,
      });
    }
    if (this.#connected && this.#pendingCount > 0) {
      this.#allAnswered = Promise.withResolvers();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#allAnswered.promise,
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.#closeTimeout);
        }),
      ]);
      clearTimeout(timer);
    }
    const unanswered = this.#pendingCount;
    this.#destroyed = true;
    // What Redis has not answered by now, it will not: closing gracefully
    // would wait for it without end.
    for (const client of [this.#publisher, this.#subscriber]) {
      // A client never opened (no hub took the engine) has nothing to end.
      if (client.isOpen) client.destroy();
    }
    if (unanswered > 0) {
      this.#lost({ reason: "not answered before close", count: unanswered });
    }
  }

  #down(): void {
    if (this.#closed || !this.#connected && this.#downSince !== undefined) {
      return;
    }
    this.#connected = false;
    this.#downSince ??= Date.now();
  }

  #up(): void {
    if (this.#closed || !this.#publisher.isReady || !this.#subscriber.isReady) {
      return;
    }
    this.#connected = true;
    this.#markReady();
    const since = this.#downSince;
    this.#downSince = undefined;
    const dropped = this.#droppedWhileDown;
    this.#droppedWhileDown = 0;
    const until = Date.now();
    if (dropped > 0) {
      this.#lost({
        reason: "published while disconnected",
        count: dropped,
        until,
      });
    }
    if (since !== undefined) {
      this.#lost({
        reason: "not received while disconnected",
        count: null,
        since,
        until,
      });
    }
  }

  #lost(report: HubLossReport): void {
    this.#receiver?.lost(report);
  }
}
