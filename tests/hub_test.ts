/**
 * The in-process hub: delivery, order, queue bounds and their policies,
 * unsubscribing, subscriptions that end with their stream, close, bad input;
 * over plain sinks and over real WebSocket connections.
 *
 * @module
 */

import assert from "node:assert/strict";
import { WebSocketStream } from "../mod.ts";
import {
  BroadcastChannelEngine,
  type BroadcastChannelEngineOptions,
  Hub,
  type HubEngine,
  type HubEngineReceiver,
  type HubHistory,
  type HubOptions,
  type PublishOptions,
  SLOW_SUBSCRIBER_CLOSE_CODE,
  type SubscribeOptions,
} from "../hub.ts";
import { delay, domException } from "./_assert.ts";
import { serveChatRoom } from "./_hub_chat.ts";
import { readUntil } from "./_raw_client.ts";
import { rawHandshake } from "./_raw_client.ts";
import { Opcode, parseClosePayload } from "./_raw_server.ts";

/** A sink that records what it got; its writes complete when `hold` is off. */
function recorder(highWaterMark = 1) {
  const received: (string | Uint8Array)[] = [];
  let gate = Promise.withResolvers<void>();
  gate.resolve();
  const aborted = Promise.withResolvers<unknown>();
  const writable = new WritableStream<string | Uint8Array>({
    async write(chunk) {
      await gate.promise;
      received.push(chunk);
    },
    abort(reason) {
      aborted.resolve(reason);
    },
  }, new CountQueuingStrategy({ highWaterMark }));
  return {
    writable,
    received,
    aborted: aborted.promise,
    hold() {
      gate = Promise.withResolvers<void>();
    },
    release() {
      gate.resolve();
    },
  };
}

/** Lets queued writes run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await delay(0);
}

Deno.test("HUB-01 hub: text and binary reach every subscriber of the topic, not others", async () => {
  const hub = new Hub();
  const a = recorder();
  const b = recorder();
  const other = recorder();
  hub.subscribe("room", a.writable);
  hub.subscribe("room", b.writable);
  hub.subscribe("elsewhere", other.writable);
  hub.publish("room", "hello");
  hub.publish("room", new Uint8Array([1, 2, 3]));
  await settle();
  assert.deepEqual(a.received, ["hello", new Uint8Array([1, 2, 3])]);
  assert.deepEqual(b.received, ["hello", new Uint8Array([1, 2, 3])]);
  assert.deepEqual(other.received, []);
  await hub.close();
});

Deno.test("HUB-02 hub: one queue per writable across its topics keeps publish order; the sender is left out", async () => {
  const hub = new Hub();
  const both = recorder();
  const sender = recorder();
  hub.subscribe("a", both.writable);
  hub.subscribe("b", both.writable);
  hub.subscribe("a", sender.writable);
  both.hold();
  const expected: string[] = [];
  for (let i = 0; i < 50; i++) {
    const topic = i % 2 === 0 ? "a" : "b";
    hub.publish(topic, `${topic}${i}`, { except: sender.writable });
    expected.push(`${topic}${i}`);
  }
  both.release();
  await settle();
  assert.deepEqual(both.received, expected);
  assert.deepEqual(sender.received, []);
  await hub.close();
});

Deno.test("HUB-03 hub: every subscriber sees each publisher's messages in order, whatever its pace", async () => {
  const hub = new Hub({ maxQueuedBytes: 1 << 20 });
  const sinks = Array.from({ length: 5 }, (_, i) => {
    const received: string[] = [];
    const writable = new WritableStream<string>({
      async write(chunk) {
        if (i > 0 && received.length % (i * 7) === 0) await delay(1);
        received.push(chunk);
      },
    });
    hub.subscribe("t", writable);
    return { received, writable };
  });
  const publishers = 4;
  const count = 100;
  for (let n = 0; n < count; n++) {
    for (let p = 0; p < publishers; p++) hub.publish("t", `${p}:${n}`);
    if (n % 10 === 0) await delay(0);
  }
  for (let i = 0; i < 500 && sinks.some((s) => s.received.length < 400); i++) {
    await delay(5);
  }
  for (const { received } of sinks) {
    assert.equal(received.length, publishers * count);
    for (let p = 0; p < publishers; p++) {
      const mine = received.filter((m) => m.startsWith(`${p}:`));
      assert.deepEqual(
        mine,
        Array.from({ length: count }, (_, n) => `${p}:${n}`),
      );
    }
  }
  await hub.close();
});

Deno.test("HUB-04 hub: a full queue under the default policy aborts the writable with 4008 and ends its subscriptions", async () => {
  const hub = new Hub({ maxQueuedBytes: 10 });
  const slow = recorder();
  const fast = recorder();
  const subscription = hub.subscribe("t", slow.writable);
  hub.subscribe("other", slow.writable);
  hub.subscribe("t", fast.writable);
  slow.hold();
  // Two messages fill the 10 bytes: the sink holds the first, the writable
  // the second.
  for (let i = 0; i < 2; i++) hub.publish("t", `msg${i}!`);
  await settle();
  assert.equal(subscription.active, true);
  hub.publish("t", "msg2!");
  assert.equal(subscription.active, false);
  slow.release();
  const reason = await slow.aborted;
  assert.ok(reason instanceof DOMException);
  assert.equal(
    (reason as { closeCode?: number }).closeCode,
    SLOW_SUBSCRIBER_CLOSE_CODE,
  );
  assert.equal((reason as { reason?: string }).reason, "Subscriber too slow");
  hub.publish("t", "later");
  await settle();
  assert.deepEqual(fast.received, ["msg0!", "msg1!", "msg2!", "later"]);
  // Aborting discarded what the writable held.
  assert.deepEqual(slow.received, ["msg0!"]);
  await hub.close();
});

Deno.test("HUB-04 HUB-05 hub: a message longer than a subscriber's bound is handed to no writable, even one with nothing queued", async () => {
  for (const whenFull of ["close", "skip"] as const) {
    const hub = new Hub();
    const idle = recorder();
    const subscription = hub.subscribe("t", idle.writable, {
      maxQueuedBytes: 10,
      whenFull,
    });
    // A writable may copy what it is handed (a socket frames it): one long
    // message to every subscriber would cost as many copies, past every
    // bound. The policy applies to it instead.
    hub.publish("t", "long message".repeat(10));
    assert.equal(subscription.active, whenFull === "skip", whenFull);
    assert.equal(subscription.skipped, whenFull === "skip" ? 1 : 0, whenFull);
    await settle();
    assert.deepEqual(idle.received, [], whenFull);
    await hub.close();
  }
});

Deno.test("HUB-15 hub: publish() refuses a message longer than the hub's bound, and every subscriber stays", async () => {
  for (const engine of [undefined, loopbackEngine([])]) {
    const where = engine === undefined ? "in process" : "with an engine";
    const hub = new Hub({ maxQueuedBytes: 8, ...(engine && { engine }) });
    const idle = recorder();
    const subscription = hub.subscribe("t", idle.writable);
    assert.throws(() => hub.publish("t", "ninebytes"), {
      name: "RangeError",
      message:
        "Cannot publish: the message is 9 bytes, more than maxQueuedBytes (8)",
    }, where);
    // Counted in UTF-8, as it is sent: four characters, twelve bytes.
    assert.throws(
      () => hub.publish("t", "\u20ac".repeat(4)),
      { message: /is 12 bytes/ },
      where,
    );
    assert.throws(() => hub.publish("t", new Uint8Array(9)), RangeError, where);
    hub.publish("t", "eight by");
    await settle();
    assert.equal(subscription.active, true, where);
    assert.deepEqual(idle.received, ["eight by"], where);
    await hub.close();
  }
});

Deno.test("HUB-05 hub: under the skip policy a full queue skips, counts, and onSkip's send() lands before the next message", async () => {
  const hub = new Hub({ maxQueuedBytes: 16, whenFull: "skip" });
  const slow = recorder();
  const skips: number[] = [];
  const subscription = hub.subscribe("t", slow.writable, {
    onSkip: (skipped, sub) => {
      skips.push(skipped);
      assert.equal(sub.send(`skipped ${skipped}`), true);
    },
  });
  const message = (i: number) => `m${i}`.padEnd(4);
  slow.hold();
  for (let i = 0; i <= 10; i++) hub.publish("t", message(i));
  // m0 (in the sink) to m3 fill the 16 bytes; m4 to m10 are skipped.
  assert.equal(subscription.skipped, 7);
  assert.equal(subscription.active, true);
  assert.equal(subscription.send("x".repeat(13)), false);
  slow.release();
  await settle();
  hub.publish("t", message(11));
  await settle();
  assert.deepEqual(skips, [7]);
  assert.deepEqual(slow.received, [
    ...[0, 1, 2, 3].map(message),
    "skipped 7",
    message(11),
  ]);
  await hub.close();
});

Deno.test("HUB-07 hub: a subscription that onSkip or encode ends gets no more of its topic, while the writable keeps its other topics", async () => {
  const hub = new Hub({ maxQueuedBytes: 16, whenFull: "skip" });
  const slow = recorder();
  hub.subscribe("other", slow.writable);
  const skipping = hub.subscribe("t", slow.writable, {
    onSkip: (_, subscription) => subscription.unsubscribe(),
  });
  const encoding = hub.subscribe("u", slow.writable, {
    encode: () => {
      encoding.unsubscribe();
      return "encoded";
    },
  });
  slow.hold();
  hub.publish("other", "full".repeat(4));
  hub.publish("t", "skipped");
  slow.release();
  await settle();
  hub.publish("t", "after");
  hub.publish("u", "u");
  hub.publish("other", "kept");
  await settle();
  assert.equal(skipping.active, false);
  assert.equal(encoding.active, false);
  assert.deepEqual(slow.received, ["full".repeat(4), "kept"]);
  await hub.close();
});

Deno.test("HUB-06 hub: a stalled subscriber holds no more than its bound (skip policy, 64 MiB published, 64 KiB bound)", async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc !== undefined, "run with --v8-flags=--expose-gc");
  const hub = new Hub({ maxQueuedBytes: 64 * 1024, whenFull: "skip" });
  const stalled = recorder();
  stalled.hold();
  const subscription = hub.subscribe("t", stalled.writable);
  gc();
  const before = Deno.memoryUsage().heapUsed +
    Deno.memoryUsage().external;
  for (let i = 0; i < 1024; i++) hub.publish("t", new Uint8Array(64 * 1024));
  for (let i = 0; i < 3; i++) {
    gc();
    await delay(10);
  }
  const after = Deno.memoryUsage().heapUsed + Deno.memoryUsage().external;
  // One message is held (in the sink): 64 MiB held would show here.
  assert.ok(after - before < 8 * 1024 * 1024, `${after - before} bytes`);
  assert.equal(subscription.skipped, 1023);
  stalled.release();
  await hub.close();
});

Deno.test("HUB-06 hub: a stalled subscriber holds a bounded number of empty or tiny messages too", async () => {
  for (const message of ["", "x"]) {
    const hub = new Hub({ maxQueuedBytes: 64 * 1024, whenFull: "skip" });
    const stalled = recorder();
    stalled.hold();
    const subscription = hub.subscribe("t", stalled.writable);
    // Each costs hundreds of bytes queued, whatever its length: empty ones
    // used to be queued without end, tiny ones a million to the MiB.
    for (let i = 0; i < 100_000; i++) hub.publish("t", message);
    // 64 KiB / 128 bytes a message.
    assert.equal(subscription.skipped, 100_000 - 512, JSON.stringify(message));
    stalled.release();
    await settle();
    assert.equal(stalled.received.length, 512);
    await hub.close();
  }
  const hub = new Hub({ maxQueuedBytes: 64 * 1024 });
  const stalled = recorder();
  stalled.hold();
  const subscription = hub.subscribe("t", stalled.writable);
  for (let i = 0; i < 1000; i++) hub.publish("t", "");
  assert.equal(subscription.active, false);
  const reason = await stalled.aborted;
  assert.equal(
    (reason as { closeCode?: number }).closeCode,
    SLOW_SUBSCRIBER_CLOSE_CODE,
  );
  stalled.release();
  await hub.close();
});

Deno.test("HUB-06 hub: a stalled writable subscribed and unsubscribed in turn holds no more than its bound", async () => {
  const hub = new Hub({ maxQueuedBytes: 64 * 1024, whenFull: "skip" });
  const stalled = recorder();
  stalled.hold();
  // As a client switching rooms while it reads nothing: each release left
  // what it was handed in the writable, and each new queue started at zero.
  let skipped = 0;
  for (let i = 0; i < 100; i++) {
    const subscription = hub.subscribe(`room ${i % 2}`, stalled.writable);
    hub.publish(`room ${i % 2}`, new Uint8Array(48 * 1024));
    skipped += subscription.skipped;
    subscription.unsubscribe();
  }
  assert.equal(skipped, 99);
  stalled.release();
  await settle();
  assert.equal(stalled.received.length, 1);
  // Once written, the bytes no longer count.
  const subscription = hub.subscribe("room 0", stalled.writable);
  hub.publish("room 0", new Uint8Array(48 * 1024));
  assert.equal(subscription.skipped, 0);
  await hub.close();
});

Deno.test("HUB-07 hub: unsubscribe stops delivery, releases the writable after its last topic, and unfollows the engine's topic", async () => {
  const follows: string[] = [];
  const engine = loopbackEngine(follows);
  const hub = new Hub({ engine });
  const sink = recorder();
  const a = hub.subscribe("a", sink.writable);
  const b = hub.subscribe("b", sink.writable);
  hub.publish("a", "1");
  await settle();
  a.unsubscribe();
  a.unsubscribe();
  hub.publish("a", "2");
  hub.publish("b", "3");
  await settle();
  assert.deepEqual(sink.received, ["1", "3"]);
  assert.equal(sink.writable.locked, true);
  b.unsubscribe();
  assert.equal(sink.writable.locked, false);
  assert.deepEqual(follows, ["+a", "+b", "-a", "-b"]);
  await hub.close();
});

Deno.test("HUB-08 hub: a subscription ends by itself when its stream closes or errors", async () => {
  const hub = new Hub();
  let errorSink: WritableStreamDefaultController | undefined;
  const erroring = new WritableStream({
    start(controller) {
      errorSink = controller;
    },
  });
  const closing = new WritableStream();
  const a = hub.subscribe("t", erroring);
  const b = hub.subscribe("t", closing);
  errorSink!.error(new Error("gone"));
  await settle();
  assert.equal(a.active, false);
  assert.equal(b.active, true);
  // Closing needs the lock, which the hub holds: close through a sink that
  // ends itself instead.
  b.unsubscribe();
  const ending = new WritableStream({
    write(_chunk, controller) {
      controller.error(new Error("peer left"));
    },
  });
  const c = hub.subscribe("t", ending);
  hub.publish("t", "x");
  await settle();
  assert.equal(c.active, false);
  await hub.close();
});

Deno.test("HUB-09 hub: close() releases every writable, is idempotent, and later calls throw InvalidStateError", async () => {
  const hub = new Hub();
  const sink = recorder();
  hub.subscribe("t", sink.writable);
  await Promise.all([hub.close(), hub.close()]);
  assert.equal(sink.writable.locked, false);
  assert.throws(() => hub.publish("t", "x"), domException("InvalidStateError"));
  assert.throws(
    () => hub.subscribe("t", sink.writable),
    domException("InvalidStateError"),
  );
});

Deno.test("HUB-16 BroadcastChannelEngine without a global BroadcastChannel: a TypeError that says what is missing", () => {
  const descriptor = Object.getOwnPropertyDescriptor(
    globalThis,
    "BroadcastChannel",
  )!;
  // As in Deno before 2.6 without --unstable-broadcast-channel.
  delete (globalThis as { BroadcastChannel?: unknown }).BroadcastChannel;
  try {
    assert.throws(() => new BroadcastChannelEngine(), {
      name: "TypeError",
      message:
        "Cannot construct BroadcastChannelEngine: this runtime has no BroadcastChannel (Deno before 2.6 needs --unstable-broadcast-channel)",
    });
  } finally {
    Object.defineProperty(globalThis, "BroadcastChannel", descriptor);
  }
});

Deno.test("HUB-09 hub: bad input gets TypeError, RangeError or InvalidStateError with what was wrong", async () => {
  assert.throws(() => new Hub({ maxQueuedBytes: 0 }), RangeError);
  assert.throws(() => new Hub({ maxQueuedBytes: NaN }), {
    name: "RangeError",
    message:
      "Cannot construct Hub: maxQueuedBytes must be a positive integer, received NaN",
  });
  assert.throws(() => new Hub({ maxQueuedBytes: "5" as unknown as number }), {
    name: "TypeError",
    message:
      'Cannot construct Hub: maxQueuedBytes must be a number, received "5"',
  });
  assert.throws(() => new Hub(5 as HubOptions), {
    name: "TypeError",
    message: "Cannot construct Hub: options must be an object, received 5",
  });
  assert.throws(() => new Hub({ engine: 5 as unknown as HubEngine }), {
    name: "TypeError",
    message:
      "Cannot construct Hub: options.engine must be a HubEngine, received 5",
  });
  assert.throws(
    () => new BroadcastChannelEngine(5 as BroadcastChannelEngineOptions),
    {
      name: "TypeError",
      message:
        "Cannot construct BroadcastChannelEngine: options must be an object, received 5",
    },
  );
  assert.throws(
    () => new Hub({ whenFull: "drop" as "skip" }),
    /whenFull must be "close" or "skip", received drop/,
  );
  const hub = new Hub();
  const sink = recorder();
  assert.throws(
    () => hub.publish("t", 42 as unknown as string),
    /Cannot publish: the message must be a string or a Uint8Array, received \[object Number\]/,
  );
  assert.throws(
    () => hub.publish("t", new ArrayBuffer(1) as unknown as string),
    TypeError,
  );
  assert.throws(() => hub.publish(1 as unknown as string, "x"), TypeError);
  assert.throws(
    () => hub.subscribe("t", {} as WritableStream),
    /Cannot subscribe: the writable must be a WritableStream/,
  );
  const locked = new WritableStream();
  const writer = locked.getWriter();
  assert.throws(() => hub.subscribe("t", locked), /the writable is locked/);
  writer.releaseLock();
  hub.subscribe("t", sink.writable);
  assert.throws(
    () => hub.subscribe("t", sink.writable),
    domException("InvalidStateError"),
  );
  await hub.close();
});

Deno.test("HUB-09 hub: subscribe() and publish() check their options; subscribe() before it takes the writable; null options are none", async () => {
  const hub = new Hub();
  const sink = recorder();
  const cases: [unknown, string][] = [
    [{ encode: 5 }, "options.encode must be a function, received 5"],
    [{ onSkip: "x" }, 'options.onSkip must be a function, received "x"'],
    [{ since: 5 }, "options.since must be a string, received 5"],
    [5, "options must be an object, received 5"],
    // An encode passed in the options' place.
    [() => "", "options must be an object, received a function"],
  ];
  for (const [options, why] of cases) {
    assert.throws(
      () => hub.subscribe("t", sink.writable, options as SubscribeOptions),
      { name: "TypeError", message: `Cannot subscribe: ${why}` },
    );
    assert.equal(sink.writable.locked, false);
  }
  // A wrong encode used to be taken, and every publish on the topic threw.
  hub.subscribe("t", sink.writable, null as unknown as SubscribeOptions);
  // A stream given for its writable used to leave nobody out.
  assert.throws(
    () =>
      hub.publish("t", "echoed", {
        except: { writable: sink.writable } as unknown as WritableStream,
      }),
    {
      name: "TypeError",
      message:
        "Cannot publish: options.except must be a WritableStream, received [object Object]",
    },
  );
  hub.publish("t", "delivered", null as unknown as PublishOptions);
  await settle();
  assert.deepEqual(sink.received, ["delivered"]);
  await hub.close();
});

Deno.test("HUB-13 hub: a subscriber whose encode fails is aborted with 1011; the others get the message, in this hub and across an engine", async () => {
  const name = "hub-13";
  const publisher = new Hub({ engine: new BroadcastChannelEngine({ name }) });
  const receiver = new Hub({ engine: new BroadcastChannelEngine({ name }) });
  const cases: [NonNullable<SubscribeOptions["encode"]>, RegExp][] = [
    [() => {
      throw new Error("no such user");
    }, /encode failed: no such user$/],
    // A size that is not a number would have unbounded the queue.
    [() => 42 as unknown as string, /it returned 42, not a string/],
  ];
  for (const [encode, message] of cases) {
    for (const hub of [publisher, receiver]) {
      const failing = recorder();
      const good = recorder();
      const subscription = hub.subscribe("t", failing.writable, { encode });
      hub.subscribe("t", good.writable);
      // Here it threw at the publisher; through the engine, out of the
      // channel's event handler, which ended the process.
      publisher.publish("t", "hello");
      for (let i = 0; i < 100 && good.received.length === 0; i++) {
        await delay(5);
      }
      assert.deepEqual(good.received, ["hello"]);
      assert.deepEqual(failing.received, []);
      assert.equal(subscription.active, false);
      const reason = await failing.aborted;
      assert.ok(reason instanceof DOMException);
      assert.equal(reason.name, "WebSocketError");
      assert.equal((reason as { closeCode?: number }).closeCode, 1011);
      assert.match(reason.message, message);
    }
  }
  await Promise.all([publisher.close(), receiver.close()]);
});

Deno.test("HUB-13 hub: an onLoss that throws does not throw out of the engine; the loss and the error go to console.error", async () => {
  let receiver: HubEngineReceiver | undefined;
  const engine: HubEngine = {
    open: (hubReceiver) => void (receiver = hubReceiver),
    publish() {},
    follow() {},
    unfollow() {},
    close: () => Promise.resolve(),
  };
  const hub = new Hub({
    engine,
    onLoss: () => {
      throw new Error("a bug in onLoss");
    },
  });
  const logged: string[] = [];
  const { error } = console;
  console.error = (...parts: unknown[]) => void logged.push(parts.join(" "));
  try {
    // RedisEngine reports from its promises' handlers: a throw there was
    // an unhandled rejection, which ends a Deno process.
    receiver!.lost({ reason: "published while disconnected", count: 3 });
  } finally {
    console.error = error;
  }
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /lost 3 messages \(published while disconnected\)/);
  assert.match(logged[0]!, /a bug in onLoss/);
  await hub.close();
});

Deno.test("HUB-13 hub: a subscriber whose onSkip throws is aborted with 1011; publish() goes on for the others", async () => {
  const hub = new Hub();
  const failing = recorder();
  const good = recorder();
  const subscription = hub.subscribe("t", failing.writable, {
    maxQueuedBytes: 8,
    whenFull: "skip",
    onSkip: () => {
      throw new Error("cannot tell");
    },
  });
  hub.subscribe("t", good.writable);
  failing.hold();
  // The sink holds the first, the writable the second: the third is skipped.
  for (const message of ["one!", "two!", "three"]) hub.publish("t", message);
  failing.release();
  await settle();
  assert.equal(subscription.skipped, 1);
  hub.publish("t", "four");
  assert.equal(subscription.active, false);
  const reason = await failing.aborted;
  assert.equal((reason as { closeCode?: number }).closeCode, 1011);
  assert.match(
    (reason as Error).message,
    /the subscription's onSkip failed: cannot tell$/,
  );
  await settle();
  assert.deepEqual(good.received, ["one!", "two!", "three", "four"]);
  await hub.close();
});

Deno.test("HUB-09 hub: an engine serves one hub at a time; a second hub is refused until the first closes", async () => {
  const engine = new BroadcastChannelEngine({ name: "hub-09-shared" });
  const first = new Hub({ engine });
  assert.throws(() => new Hub({ engine }), {
    name: "InvalidStateError",
    message: "Cannot construct Hub: the engine is already used by another hub",
  });
  // The first hub still receives what another hub on the channel publishes.
  const other = new Hub({
    engine: new BroadcastChannelEngine({ name: "hub-09-shared" }),
  });
  const sink = recorder();
  first.subscribe("t", sink.writable);
  other.publish("t", "still heard");
  for (let i = 0; i < 100 && sink.received.length === 0; i++) await delay(5);
  assert.deepEqual(sink.received, ["still heard"]);
  await first.close();
  const next = new Hub({ engine });
  await Promise.all([next.close(), other.close()]);
});

Deno.test("HUB-02 HUB-03 hub: an engine carries messages between hubs; the sender is left out only in its own hub", async () => {
  const bus = new Set<HubEngineReceiver>();
  const follows: string[] = [];
  const first = new Hub({ engine: loopbackEngine(follows, bus) });
  const second = new Hub({ engine: loopbackEngine(follows, bus) });
  const here = recorder();
  const there = recorder();
  first.subscribe("t", here.writable);
  second.subscribe("t", there.writable);
  first.publish("t", "from first", { except: here.writable });
  second.publish("t", new Uint8Array([7]));
  await settle();
  assert.deepEqual(here.received, [new Uint8Array([7])]);
  assert.deepEqual(there.received, ["from first", new Uint8Array([7])]);
  await Promise.all([first.close(), second.close()]);
});

Deno.test("HUB-12 hub: an engine whose history rejects gives recovered: false, and live messages still flow", async () => {
  const engine: HubEngine = {
    ...loopbackEngine([]),
    history: () => Promise.reject(new Error("history is down")),
  };
  const hub = new Hub({ engine });
  const sink = recorder();
  const subscription = hub.subscribe("t", sink.writable, { since: "0-0" });
  assert.deepEqual(await subscription.recovery, {
    recovered: false,
    count: 0,
  });
  hub.publish("t", "live");
  await settle();
  assert.deepEqual(sink.received, ["live"]);
  await hub.close();
});

Deno.test("HUB-06 hub: while a recovery runs, what send() queues shares the bound with the live messages held", async () => {
  for (const whenFull of ["skip", "close"] as const) {
    const history = Promise.withResolvers<HubHistory>();
    const hub = new Hub({
      engine: { ...loopbackEngine([]), history: () => history.promise },
      maxQueuedBytes: 1024,
      whenFull,
    });
    const stalled = recorder();
    stalled.hold();
    const subscription = hub.subscribe("t", stalled.writable, {
      since: "0-0",
    });
    hub.publish("t", "a".repeat(400));
    hub.publish("t", "b".repeat(400));
    // 800 bytes are held for after the recovery: 400 more would make 1200.
    assert.equal(subscription.send("c".repeat(400)), false);
    assert.equal(subscription.send("d".repeat(200)), whenFull === "skip");
    history.resolve({ recovered: true, messages: [] });
    await subscription.recovery;
    if (whenFull === "close") {
      const reason = await stalled.aborted;
      assert.equal(
        (reason as { closeCode: number }).closeCode,
        SLOW_SUBSCRIBER_CLOSE_CODE,
      );
    }
    stalled.release();
    await settle();
    assert.deepEqual(
      stalled.received,
      whenFull === "skip"
        ? ["d".repeat(200), "a".repeat(400), "b".repeat(400)]
        : [],
    );
    await hub.close();
  }
});

Deno.test("HUB-03 hub: BroadcastChannelEngine shares topics between hubs on one channel name", async () => {
  const name = `hub-test-${crypto.randomUUID()}`;
  const first = new Hub({ engine: new BroadcastChannelEngine({ name }) });
  const second = new Hub({ engine: new BroadcastChannelEngine({ name }) });
  const here = recorder();
  const there = recorder();
  first.subscribe("t", here.writable);
  second.subscribe("t", there.writable);
  for (let i = 0; i < 10; i++) first.publish("t", `${i}`);
  second.publish("t", "back");
  const expected = Array.from({ length: 10 }, (_, i) => `${i}`);
  for (let i = 0; i < 200 && there.received.length < 11; i++) await delay(5);
  assert.deepEqual(there.received.filter((m) => m !== "back"), expected);
  assert.ok(there.received.includes("back"));
  for (let i = 0; i < 200 && here.received.length < 11; i++) await delay(5);
  assert.deepEqual(here.received.filter((m) => m !== "back"), expected);
  await Promise.all([first.close(), second.close()]);
});

Deno.test("HUB-03 hub: BroadcastChannelEngine ignores what others post on its channel, and goes on", async () => {
  const name = `hub-test-${crypto.randomUUID()}`;
  const hub = new Hub({ engine: new BroadcastChannelEngine({ name }) });
  const sink = recorder();
  hub.subscribe("t", sink.writable);
  const stranger = new BroadcastChannel(name);
  // A null used to throw out of the channel's message event, which ends a
  // Deno process: every worker with a hub on the channel.
  for (
    const data of [null, 1, "t", { topic: 1 }, { topic: "t", payload: "x" }]
  ) {
    stranger.postMessage(data);
  }
  stranger.close();
  const publisher = new Hub({ engine: new BroadcastChannelEngine({ name }) });
  publisher.publish("t", "after");
  for (let i = 0; i < 200 && sink.received.length === 0; i++) await delay(5);
  assert.deepEqual(sink.received, ["after"]);
  await Promise.all([hub.close(), publisher.close()]);
});

Deno.test("HUB-03 HUB-04 hub over WebSocketStreams: 20 clients all publishing get every message in order; a client that stops reading is closed with 4008", async () => {
  const hub = new Hub({ maxQueuedBytes: 256 * 1024 });
  const server = serveChatRoom(hub, { closeTimeout: 1000 });
  try {
    const url = `ws://127.0.0.1:${server.addr.port}`;
    using stalled = await rawHandshake(server.addr.port);
    const clients = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const client = new WebSocketStream(url);
        return { client, ...await client.opened };
      }),
    );
    await delay(50);
    const perClient = 50;
    const filler = "x".repeat(8000);
    // Each client sends its next message once its own came back, so the
    // readers keep up and only the stalled client falls behind.
    await Promise.all(clients.map(async ({ readable, writable }, c) => {
      const writer = writable.getWriter();
      const reader = readable.getReader();
      const seen = new Map<string, number>();
      const total = clients.length * perClient;
      await writer.write(`${c}:0:${filler}`);
      for (let i = 0; i < total; i++) {
        const { value } = await reader.read();
        const [from, n] = (value as string).split(":");
        assert.equal(
          Number(n),
          seen.get(from!) ?? 0,
          "in publisher order, once",
        );
        seen.set(from!, Number(n) + 1);
        if (from === `${c}` && Number(n) + 1 < perClient) {
          await writer.write(`${c}:${Number(n) + 1}:${filler}`);
        }
      }
      assert.equal(seen.size, clients.length);
      writer.releaseLock();
      reader.releaseLock();
    }));
    // 8 MB went to the stalled client: more than its bound and socket buffers.
    const close = await readUntil(stalled.connection, Opcode.close);
    assert.deepEqual(parseClosePayload(close!), {
      code: SLOW_SUBSCRIBER_CLOSE_CODE,
      reason: "Subscriber too slow",
    });
    for (const { client } of clients) client.close();
    await Promise.all(clients.map(({ client }) => client.closed));
  } finally {
    await hub.close();
    await server.shutdown();
  }
});

/** An engine over an in-memory bus of receivers, recording follows. */
function loopbackEngine(
  follows: string[],
  bus = new Set<HubEngineReceiver>(),
): HubEngine {
  const topics = new Set<string>();
  let self: HubEngineReceiver | undefined;
  const receiver: HubEngineReceiver = {
    receive(topic, payload) {
      if (topics.has(topic)) self?.receive(topic, payload);
    },
    lost() {},
  };
  return {
    open(hubReceiver) {
      self = hubReceiver;
      bus.add(receiver);
    },
    publish(topic, payload) {
      for (const other of bus) other.receive(topic, payload);
    },
    follow(topic) {
      follows.push(`+${topic}`);
      topics.add(topic);
    },
    unfollow(topic) {
      follows.push(`-${topic}`);
      topics.delete(topic);
    },
    close() {
      bus.delete(receiver);
      return Promise.resolve();
    },
  };
}
