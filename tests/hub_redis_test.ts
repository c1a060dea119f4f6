/**
 * The hub across processes on a real Redis (RedisEngine): every client of
 * every server process gets every message once, in each publisher's order;
 * a killed server does not stop the others; a Redis restart is survived and
 * its loss reported; recovery through Redis Streams within and after the
 * window.
 *
 * @module
 */

import assert from "node:assert/strict";
import { WebSocketStream } from "../mod.ts";
import { Hub, type HubLossReport, type HubMessage } from "../hub.ts";
import { RedisEngine, type RedisEngineOptions } from "../hub_redis.ts";
import { delay } from "./_assert.ts";
import { findPeer, peerPath, peerTestOptions } from "./_peers.ts";
import { RedisServer, shareOrStartRedis } from "./_redis.ts";
import { DenoProcess } from "./_subprocess.ts";

const redis = findPeer("redis");

interface Client {
  stream: WebSocketStream;
  reader: ReadableStreamDefaultReader<string | Uint8Array>;
  writer: WritableStreamDefaultWriter<string | Uint8Array>;
}

async function connect(port: number): Promise<Client> {
  const stream = new WebSocketStream(`ws://127.0.0.1:${port}/`);
  const { readable, writable } = await stream.opened;
  return {
    stream,
    reader: readable.getReader(),
    writer: writable.getWriter(),
  };
}

/**
 * Reads `count` messages `<publisher>:<n>` and checks each publisher's come
 * once and in order, from `first[publisher]` on; returns the next expected.
 */
async function readInOrder(
  client: Client,
  count: number,
  first = new Map<string, number>(),
): Promise<Map<string, number>> {
  const next = new Map(first);
  for (let i = 0; i < count; i++) {
    const { value, done } = await client.reader.read();
    assert.ok(!done, "the connection stayed open");
    const [from, n] = String(value).split(":");
    assert.equal(Number(n), next.get(from!) ?? 0, `${value}: once, in order`);
    next.set(from!, Number(n) + 1);
  }
  return next;
}

async function closeAll(clients: Client[]): Promise<void> {
  for (const { stream } of clients) stream.close();
  await Promise.all(clients.map(({ stream }) => stream.closed.catch(() => {})));
}

async function stopAll(processes: DenoProcess[]): Promise<void> {
  await Promise.all(processes.map((process) => process[Symbol.asyncDispose]()));
}

/** Chat server processes on one Redis and clients spread over them. */
interface Cluster extends AsyncDisposable {
  processes: DenoProcess[];
  /** Client `c` is a client of server `c % processes.length`. */
  clients: Client[];
}

/**
 * Starts `servers` chat server processes on `redisUrl` and connects
 * `clientCount` clients to them in turn, 50 at a time; disposing closes the
 * clients, then stops the servers.
 */
async function startCluster(
  redisUrl: string,
  servers: number,
  clientCount: number,
): Promise<Cluster> {
  const processes = Array.from({ length: servers }, () =>
    new DenoProcess([
      "run",
      "--allow-net=127.0.0.1",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      "tests/fixtures/hub_redis_server.ts",
    ], { env: { REDIS_URL: redisUrl } }));
  const clients: Client[] = [];
  const dispose = async () => {
    await closeAll(clients);
    await stopAll(processes);
  };
  try {
    const ports = await Promise.all(processes.map(async (process) => {
      const [, port] = await process.waitForStdout(/^listening (\d+)$/m);
      return Number(port);
    }));
    for (let i = 0; i < clientCount; i += 50) {
      clients.push(
        ...await Promise.all(
          Array.from(
            { length: Math.min(50, clientCount - i) },
            (_, j) => connect(ports[(i + j) % servers]!),
          ),
        ),
      );
    }
    // Every server has subscribed its clients before anyone publishes.
    await delay(200);
  } catch (error) {
    await dispose();
    throw error;
  }
  return { processes, clients, [Symbol.asyncDispose]: dispose };
}

Deno.test({
  ...peerTestOptions(
    [redis],
    "HUB-03 hub on Redis: 3 server processes, 300 clients all publishing: every client gets every message once, in each publisher's order",
  ),
  async fn() {
    await using server = await shareOrStartRedis(peerPath(redis));
    await using cluster = await startCluster(server.url, 3, 300);
    const { clients } = cluster;
    const perClient = 3;
    await Promise.all(clients.map(async ({ writer }, c) => {
      for (let n = 0; n < perClient; n++) await writer.write(`${c}:${n}`);
    }));
    await Promise.all(clients.map(async (client) => {
      const next = await readInOrder(client, clients.length * perClient);
      assert.equal(next.size, clients.length);
    }));
  },
});

Deno.test({
  ...peerTestOptions(
    [redis],
    "HUB-10 hub on Redis: after `kill -9` of one server process, the clients of the others keep receiving",
  ),
  async fn() {
    await using server = await shareOrStartRedis(peerPath(redis));
    await using cluster = await startCluster(server.url, 3, 9);
    const { processes, clients } = cluster;
    await Promise.all(clients.map(({ writer }, c) => writer.write(`${c}:0`)));
    const next = await Promise.all(
      clients.map((client) => readInOrder(client, clients.length)),
    );

    await processes[2]![Symbol.asyncDispose]();
    const survivors = clients.filter((_, c) => c % 3 !== 2);
    const gone = clients.filter((_, c) => c % 3 === 2);
    await Promise.all(
      gone.map(({ stream }) =>
        assert.rejects(stream.closed, { closeCode: 1006 })
      ),
    );
    const perClient = 5;
    await Promise.all(clients.map(async ({ writer }, c) => {
      if (c % 3 === 2) return;
      for (let n = 1; n <= perClient; n++) await writer.write(`${c}:${n}`);
    }));
    await Promise.all(survivors.map(async (client) => {
      const c = clients.indexOf(client);
      const after = await readInOrder(
        client,
        survivors.length * perClient,
        next[c],
      );
      for (const [from, n] of after) {
        if (Number(from) % 3 !== 2) assert.equal(n, 1 + perClient);
      }
    }));
  },
});

Deno.test({
  ...peerTestOptions(
    [redis],
    "HUB-11 hub on Redis: Redis restarted mid-run: publishing resumes and what was published during the outage is reported lost",
  ),
  async fn() {
    await using server = await RedisServer.start(peerPath(redis));
    await using cluster = await startCluster(server.url, 2, 4);
    const { processes, clients } = cluster;
    await Promise.all(clients.map(({ writer }, c) => writer.write(`${c}:0`)));
    await Promise.all(clients.map((client) => readInOrder(client, 4)));

    await server.kill();
    await delay(300);
    // Client 0's server cannot publish these three.
    for (let n = 0; n < 3; n++) await clients[0]!.writer.write(`lost ${n}`);
    await delay(300);
    await server.restart();

    // Each server reports, once back, what it could not publish (dropped
    // while disconnected, or failed if it had not noticed yet) and then
    // that it may have missed messages meanwhile.
    const printed = await Promise.all(processes.map(async (process) => {
      const [, before, json] = await process.waitForStdout(
        /^([\s\S]*)loss (.*"not received while disconnected".*)$/m,
      );
      const missed = JSON.parse(json!) as HubLossReport;
      assert.equal(missed.count, null);
      assert.ok(missed.since! <= missed.until!);
      return [...before!.matchAll(/^loss (.*)$/gm)].map(([, line]) =>
        JSON.parse(line!) as HubLossReport
      );
    }));
    const unpublished = printed[0]!.reduce(
      (sum, { count }) => sum + (count ?? 0),
      0,
    );
    assert.equal(unpublished, 3);
    assert.deepEqual(printed[1], []);

    // Resubscribing takes a moment: probe until every client hears one.
    const heard = clients.map(() => false);
    const probing = (async () => {
      for (let i = 0; i < 100 && heard.includes(false); i++) {
        await clients[1]!.writer.write(`probe ${i}`);
        await delay(50);
      }
    })();
    await Promise.all(clients.map(async (client, c) => {
      while (true) {
        const { value } = await client.reader.read();
        assert.ok(!String(value).startsWith("lost"), "nothing lost arrives");
        if (String(value).startsWith("probe")) break;
      }
      heard[c] = true;
    }));
    await probing;
    await Promise.all(clients.map(({ writer }, c) => writer.write(`${c}:1`)));
    await Promise.all(clients.map(async (client) => {
      let got = 0;
      while (got < 4) {
        const { value } = await client.reader.read();
        if (!String(value).startsWith("probe")) got++;
      }
    }));
  },
});

Deno.test({
  ...peerTestOptions(
    [redis],
    "HUB-12 hub on Redis Streams: a subscriber passing its last offset gets exactly what it missed; after the window it is told",
  ),
  async fn() {
    await using server = await RedisServer.start(peerPath(redis));
    const engine = new RedisEngine({
      url: server.url,
      history: { maxLength: 10 },
    });
    const losses: HubLossReport[] = [];
    const hub = new Hub({ engine, onLoss: (report) => losses.push(report) });
    try {
      await engine.ready;
      const seen: { offset: string; data: string }[] = [];
      const sink = () =>
        new WritableStream<string>({
          write: (chunk) => void seen.push(JSON.parse(chunk)),
        });
      const encode = ({ offset, data }: HubMessage) =>
        JSON.stringify({ offset, data });
      const first = hub.subscribe("room", sink(), { encode });
      for (let i = 0; i < 5; i++) hub.publish("room", `m${i}`);
      for (let i = 0; i < 100 && seen.length < 5; i++) await delay(10);
      assert.deepEqual(seen.map(({ data }) => data), [
        "m0",
        "m1",
        "m2",
        "m3",
        "m4",
      ]);
      const last = seen[2]!.offset;
      first.unsubscribe();

      // Published while this client was away.
      for (let i = 5; i < 8; i++) hub.publish("room", `m${i}`);
      await delay(100);
      seen.length = 0;
      const again = hub.subscribe("room", sink(), { encode, since: last });
      assert.deepEqual(await again.recovery, { recovered: true, count: 5 });
      hub.publish("room", "m8");
      for (let i = 0; i < 100 && seen.length < 6; i++) await delay(10);
      assert.deepEqual(
        seen.map(({ data }) => data),
        ["m3", "m4", "m5", "m6", "m7", "m8"],
      );
      again.unsubscribe();

      // `MAXLEN ~ 10` trims by whole nodes of the stream: 1,000 more
      // messages push `last` out.
      for (let i = 9; i < 1009; i++) hub.publish("room", `m${i}`);
      await delay(300);
      seen.length = 0;
      const late = hub.subscribe("room", sink(), { encode, since: last });
      assert.deepEqual(await late.recovery, { recovered: false, count: 0 });
      assert.deepEqual(losses, []);
    } finally {
      await hub.close();
    }
  },
});

Deno.test({
  ...peerTestOptions(
    [redis],
    "HUB-06 HUB-12 hub on Redis Streams: a recovery the subscriber's queue can hold is recovered, one that would overflow it is not, and the subscriber stays",
  ),
  async fn() {
    await using server = await RedisServer.start(peerPath(redis));
    const engine = new RedisEngine({
      url: server.url,
      history: { maxLength: 1000 },
    });
    const hub = new Hub({ engine, maxQueuedBytes: 64 * 1024 });
    try {
      await engine.ready;
      const offsets: string[] = [];
      hub.subscribe("room", new WritableStream(), {
        encode: ({ offset }) => {
          offsets.push(offset!);
          return "";
        },
        // Room for every burst below, which a queue of the hub's bound
        // (512 messages) may not take at once.
        maxQueuedBytes: 1024 * 1024,
      });
      for (let i = 0; i < 100 && offsets.length === 0; i++) {
        hub.publish("room", "probe");
        await delay(20);
      }
      await delay(50);
      offsets.length = 0;
      // 1.6 MiB missed, for a queue of 64 KiB: all of it used to be read
      // into memory, for any offset a client sent, and then overflowed.
      for (let i = 0; i < 200; i++) hub.publish("room", new Uint8Array(8192));
      for (let i = 0; i < 200 && offsets.length < 200; i++) await delay(10);
      const received: unknown[] = [];
      const whole = hub.subscribe(
        "room",
        new WritableStream({ write: (message) => void received.push(message) }),
        { since: offsets[0]! },
      );
      assert.deepEqual(await whole.recovery, { recovered: false, count: 0 });
      assert.equal(whole.active, true);
      const tail = hub.subscribe("room", new WritableStream(), {
        since: offsets.at(-4)!,
      });
      assert.deepEqual(await tail.recovery, { recovered: true, count: 3 });
      hub.publish("room", "live");
      for (let i = 0; i < 100 && received.length === 0; i++) await delay(10);
      assert.deepEqual(received, ["live"]);
      // 600 tiny messages: few bytes, but more than the 512 a queue of 64
      // KiB holds, which used to be read and then close the subscriber.
      offsets.length = 0;
      for (let i = 0; i < 601; i++) hub.publish("room", "t");
      for (let i = 0; i < 200 && offsets.length < 601; i++) await delay(10);
      const tiny = hub.subscribe("room", new WritableStream(), {
        since: offsets[0]!,
      });
      assert.deepEqual(await tiny.recovery, { recovered: false, count: 0 });
      assert.equal(tiny.active, true);
      // 400 messages of 100 bytes: within both of the queue's bounds (40 KB
      // of 64 KiB, 400 of 512 messages), so all of them are recovered.
      offsets.length = 0;
      for (let i = 0; i < 401; i++) hub.publish("room", "m".repeat(100));
      for (let i = 0; i < 200 && offsets.length < 401; i++) await delay(10);
      const many = hub.subscribe("room", new WritableStream(), {
        since: offsets[0]!,
      });
      assert.deepEqual(await many.recovery, { recovered: true, count: 400 });
    } finally {
      await hub.close();
    }
  },
});

Deno.test({
  ...peerTestOptions(
    [redis],
    "HUB-01 hub on Redis: text and binary arrive as published, with and without history",
  ),
  async fn() {
    await using server = await RedisServer.start(peerPath(redis));
    for (const history of [undefined, { maxLength: 100 }]) {
      const engine = new RedisEngine({
        url: server.url,
        ...(history === undefined ? {} : { history }),
      });
      const hub = new Hub({ engine });
      try {
        await engine.ready;
        const received: unknown[] = [];
        hub.subscribe(
          "mixed",
          new WritableStream({ write: (m) => void received.push(m) }),
        );
        await delay(50);
        const binary = new Uint8Array([0, 10, 255, 13]);
        hub.publish("mixed", binary);
        hub.publish("mixed", "héllo\n");
        for (let i = 0; i < 100 && received.length < 2; i++) await delay(10);
        assert.deepEqual(received, [binary, "héllo\n"]);
        assert.equal(Object.getPrototypeOf(received[0]), Uint8Array.prototype);
      } finally {
        await hub.close();
      }
    }
  },
});

/**
 * Publishes `published` copies of `payload` while Redis is stalled (SIGSTOP)
 * with a 1 MiB `maxPendingBytes`, then lets it go on: resolves with how many
 * were dropped and reported; every other one must arrive.
 */
async function publishIntoStalledRedis(
  payload: string | Uint8Array,
  published: number,
): Promise<number> {
  await using server = await RedisServer.start(peerPath(redis));
  const losses: HubLossReport[] = [];
  const engine = new RedisEngine({
    url: server.url,
    maxPendingBytes: 1024 * 1024,
  });
  const hub = new Hub({ engine, onLoss: (report) => losses.push(report) });
  const received: unknown[] = [];
  try {
    await engine.ready;
    hub.subscribe(
      "t",
      new WritableStream({ write: (message) => void received.push(message) }),
    );
    // Subscribed on Redis once a message comes back.
    for (let i = 0; i < 100 && received.length === 0; i++) {
      hub.publish("t", "probe");
      await delay(20);
    }
    await delay(50);
    received.length = 0;
    server.pause();
    for (let i = 0; i < published; i++) hub.publish("t", payload);
    server.resume();
    const lost = () =>
      losses.filter(({ reason }) =>
        reason === "published while Redis was behind"
      ).reduce((sum, { count }) => sum + (count ?? 0), 0);
    for (let i = 0; i < 300 && received.length + lost() < published; i++) {
      await delay(10);
    }
    assert.equal(received.length + lost(), published, "none silently");
    return lost();
  } finally {
    await hub.close();
  }
}

Deno.test({
  ...peerTestOptions(
    [redis],
    "HUB-06 HUB-11 hub on Redis: a Redis that stalls without disconnecting holds at most maxPendingBytes; what was dropped is reported",
  ),
  async fn() {
    // 4 MiB that Redis does not take: these used to pile up in the
    // process, as much as was published, with no word of it.
    const lost = await publishIntoStalledRedis(new Uint8Array(64 * 1024), 64);
    assert.ok(lost > 0, "some were dropped, and reported");
  },
});

Deno.test({
  ...peerTestOptions(
    [redis],
    "HUB-06 HUB-11 hub on Redis: a stalled Redis holds a bounded number of empty messages too; what was dropped is reported",
  ),
  async fn() {
    // 650 KB of envelopes, which used to fit the 1 MiB while holding
    // about 45 MB of commands in the client.
    const published = 50_000;
    const lost = await publishIntoStalledRedis("", published);
    assert.ok(lost > published / 2, `${lost} dropped`);
  },
});

Deno.test({
  ...peerTestOptions(
    [redis],
    "HUB-14 hub on Redis: close() ends whether Redis stalls or is down, and reports what Redis did not take",
  ),
  async fn() {
    await using server = await RedisServer.start(peerPath(redis));
    for (const outage of ["stalled", "down"] as const) {
      const losses: HubLossReport[] = [];
      const engine = new RedisEngine({ url: server.url, closeTimeout: 200 });
      const hub = new Hub({ engine, onLoss: (report) => losses.push(report) });
      let closed: Promise<void> | undefined;
      try {
        await engine.ready;
        hub.subscribe("t", new WritableStream());
        if (outage === "stalled") server.pause();
        else await server.kill();
        for (let i = 0; i < 10; i++) hub.publish("t", "x");
        // Down, a subscription waits in the client for Redis to come back.
        hub.subscribe("u", new WritableStream());
        // Used to wait for Redis without end: the timeout ends the test.
        closed = hub.close();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const outcome = await Promise.race([
          closed.then(() => "closed"),
          new Promise((resolve) => {
            timer = setTimeout(() => resolve("still waiting"), 10_000);
          }),
        ]);
        clearTimeout(timer);
        assert.equal(outcome, "closed", outage);
        const count = losses.reduce((sum, { count }) => sum + (count ?? 0), 0);
        assert.equal(count, 10, `${outage}: ${JSON.stringify(losses)}`);
      } finally {
        server.resume();
        await closed;
        await hub.close();
      }
    }
  },
});

Deno.test("HUB-09 RedisEngine: a closed engine refuses a new hub instead of losing its messages in silence", async () => {
  // Nothing listens there: the engine never connects, and need not.
  const engine = new RedisEngine({ url: "redis://127.0.0.1:1" });
  await new Hub({ engine }).close();
  assert.throws(() => new Hub({ engine }), {
    name: "InvalidStateError",
    message: "Cannot open RedisEngine: it is closed; make a new one",
  });
});

Deno.test("HUB-09 RedisEngine: bad options are refused before any connection, as the client refuses a bad URL", () => {
  const cases: [unknown, string, string][] = [
    [
      "redis://127.0.0.1:6379",
      "TypeError",
      'options must be an object, received "redis://127.0.0.1:6379"',
    ],
    [{}, "TypeError", "options.url must be a string, received undefined"],
    [{ url: "not a url" }, "SyntaxError", 'invalid URL "not a url"'],
    [
      { url: "http://127.0.0.1:6379" },
      "SyntaxError",
      'URL scheme must be redis or rediss, received "http"',
    ],
    [
      { url: "redis://127.0.0.1:6379", maxPendingBytes: 0 },
      "RangeError",
      "maxPendingBytes must be a positive integer, received 0",
    ],
    [
      { url: "redis://127.0.0.1:6379", closeTimeout: 0.5 },
      "RangeError",
      "closeTimeout must be a positive integer, received 0.5",
    ],
  ];
  for (const [options, name, why] of cases) {
    assert.throws(
      () => new RedisEngine(options as RedisEngineOptions),
      { name, message: `Cannot construct RedisEngine: ${why}` },
    );
  }
});
