/**
 * `deno task bench:hub`, clients in processes of their own, loopback:
 *
 * - `fanout`: one server process publishes MESSAGES messages to SUBSCRIBERS
 *   clients, through the hub and through a hand-written
 *   `for (const ws of sockets) ws.send(m)` loop over `Deno.upgradeWebSocket`,
 *   then through the hub again with one more client that never reads;
 * - `redis`: SERVERS server processes on one Redis, REDIS_CLIENTS clients
 *   spread over them, PUBLISHERS of which each send MESSAGES messages, one
 *   every INTERVAL ms: the hub with `RedisEngine` against Socket.IO 4 with
 *   `@socket.io/redis-adapter`. Redis is `REDIS_URL`, else a redis-server
 *   started for the run.
 *
 * The hub runs behind both server paths: `upgradeWebSocketStream` in
 * `Deno.serve` (`@deno`) and `handleUpgrade` on `node:http` (`@node`).
 * The `redis` rows run twice: at the offered load above (more than the
 * servers carry: capacity and CPU per delivery), then with
 * LATENCY_PUBLISHERS sending one message every LATENCY_INTERVAL ms each, a
 * load both carry, for latency.
 *
 * Each row: delivered/expected messages, delivered messages/s, p50/p99
 * publish-to-receive latency, the servers' CPU per delivered message (user +
 * system) and peak RSS.
 *
 * Flags: `--only=fanout|redis --subscribers=1000 --messages=200 --size=100
 * --procs=4 --servers=3 --redis-clients=999 --publishers=10 --interval=10
 * --latency-publishers=2 --latency-interval=50`; `--cpu-prof=DIR` writes
 * each server process's V8 CPU profile into DIR.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { RedisServer } from "../../tests/_redis.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string" },
    subscribers: { type: "string", default: "1000" },
    messages: { type: "string", default: "200" },
    size: { type: "string", default: "100" },
    procs: { type: "string", default: "4" },
    servers: { type: "string", default: "3" },
    "redis-clients": { type: "string", default: "999" },
    publishers: { type: "string", default: "10" },
    interval: { type: "string", default: "10" },
    "latency-publishers": { type: "string", default: "2" },
    "latency-interval": { type: "string", default: "50" },
    "cpu-prof": { type: "string" },
  },
});
const profile = values["cpu-prof"];
const number = (name: keyof typeof values) => Number(values[name]);
const HERE = new URL("./", import.meta.url);

interface ClientResult {
  received: number;
  closedEarly: number;
  lastAt: number;
  latencies: number[];
}

interface Stats {
  cpuMicros: number;
  peakRss: number;
}

/** Starts `deno run -A <script> <args>`, reading its stdout by lines. */
function start(
  script: string,
  args: string[],
  env: Record<string, string> = {},
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...(profile !== undefined && script === "_server.ts"
        ? ["--cpu-prof", `--cpu-prof-dir=${profile}`]
        : []),
      new URL(script, HERE).pathname,
      ...args,
    ],
    env,
    stdout: "piped",
    stderr: "inherit",
    stdin: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream())
    .pipeThrough(
      new TransformStream<string, string>({
        transform(chunk, controller) {
          for (const line of chunk.split("\n")) {
            if (line !== "") controller.enqueue(line);
          }
        },
      }),
    ).getReader();
  return {
    async line(): Promise<string> {
      const { value, done } = await lines.read();
      if (done) throw new Error(`${script} ended early`);
      return value;
    },
    write: (text: string) => stdin.write(new TextEncoder().encode(text)),
    async stop() {
      try {
        // A profiled server writes its profile as it exits on SIGTERM.
        child.kill(profile === undefined ? "SIGKILL" : "SIGTERM");
      } catch {
        // Already gone.
      }
      await stdin.close().catch(() => {});
      await lines.cancel();
      await child.status;
    },
  };
}

/** Opens a WebSocket connection by hand and never reads from it. */
async function connectStalled(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        "Sec-WebSocket-Version: 13\r\n\r\n",
    ),
  );
  return conn;
}

const stats = async (port: string): Promise<Stats> =>
  await (await fetch(`http://127.0.0.1:${port}/stats`)).json();

/** One row: servers of `label` (`MODE` or `MODE@PATH`), clients spread
 * over them, one run. */
async function measure(
  label: string,
  servers: number,
  clients: number,
  expected: number,
  publish: { publishers: number; messages: number; interval: number } | null,
  env: Record<string, string> = {},
  stalled = false,
) {
  const size = number("size");
  const procs = number("procs");
  const [mode = label, path = "deno"] = label.split("@");
  const serverProcesses = Array.from(
    { length: servers },
    () => start("_server.ts", [mode, path], env),
  );
  const clientProcesses: ReturnType<typeof start>[] = [];
  try {
    const ports = await Promise.all(
      serverProcesses.map(async (server) =>
        (await server.line()).split(" ")[1]!
      ),
    );
    const per = Math.ceil(clients / procs);
    for (let i = 0; i < procs; i++) {
      clientProcesses.push(start("_clients.ts", [
        mode === "socketio"
          ? `http://127.0.0.1:${ports[i % servers]}`
          : `ws://127.0.0.1:${ports[i % servers]}/`,
        String(Math.min(per, clients - i * per)),
        String(expected),
        mode === "socketio" ? "socketio" : "ws",
        // The publishers all live in the first client process.
        String(i === 0 && publish !== null ? publish.publishers : 0),
        String(publish?.messages ?? 0),
        String(size),
        String(publish?.interval ?? 0),
      ]));
    }
    for (const client of clientProcesses) await client.line();
    // A client that completes the handshake and never reads a byte.
    using _stalled = stalled
      ? await connectStalled(Number(ports[0]))
      : undefined;
    const before = await Promise.all(ports.map(stats));
    const goAt = performance.timeOrigin + performance.now();
    for (const client of clientProcesses) await client.write("go\n");
    if (publish === null) {
      await (await fetch(
        `http://127.0.0.1:${ports[0]}/go?messages=${
          number("messages")
        }&size=${size}`,
      )).text();
    }
    const results: ClientResult[] = await Promise.all(
      clientProcesses.map(async (client) => JSON.parse(await client.line())),
    );
    const after = await Promise.all(ports.map(stats));
    const received = results.reduce((sum, r) => sum + r.received, 0);
    const lastAt = Math.max(...results.map((r) => r.lastAt));
    const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const at = (q: number) =>
      latencies[
        Math.min(latencies.length - 1, Math.floor(q * latencies.length))
      ] ??
        NaN;
    const cpu = after.reduce(
      (sum, s, i) => sum + s.cpuMicros - before[i]!.cpuMicros,
      0,
    );
    return {
      mode: stalled ? `${label}, 1 stalled` : label,
      received,
      expected: clients * expected,
      perSecond: received / ((lastAt - goAt) / 1000),
      p50: at(0.5),
      p99: at(0.99),
      cpuPerDelivery: cpu / received,
      peakRssMiB: Math.max(...after.map((s) => s.peakRss)) / 2 ** 20,
      closedEarly: results.reduce((sum, r) => sum + r.closedEarly, 0),
    };
  } finally {
    await Promise.all(clientProcesses.map((client) => client.stop()));
    await Promise.all(serverProcesses.map((server) => server.stop()));
  }
}

function print(rows: Awaited<ReturnType<typeof measure>>[]): void {
  for (const row of rows) {
    console.log(
      `${row.mode.padEnd(20)} delivered ${row.received}/${row.expected}` +
        `  ${Math.round(row.perSecond).toLocaleString("en")} msg/s` +
        `  p50 ${row.p50.toFixed(1)} ms  p99 ${row.p99.toFixed(1)} ms` +
        `  server CPU ${row.cpuPerDelivery.toFixed(2)} µs/delivery` +
        `  peak RSS ${
          row.peakRssMiB.toFixed(0)
        } MiB  closed early ${row.closedEarly}`,
    );
  }
}

if (values.only !== "redis") {
  const subscribers = number("subscribers");
  const messages = number("messages");
  console.log(
    `fanout: 1 server process, ${subscribers} subscribers in ${
      number("procs")
    } processes, ${messages} messages of ${number("size")} B`,
  );
  const rows = [];
  for (const mode of ["plain", "hub@deno", "hub@node"]) {
    rows.push(await measure(mode, 1, subscribers, messages, null));
  }
  rows.push(
    await measure("hub@node", 1, subscribers, messages, null, {}, true),
  );
  print(rows);
  console.log(
    `hub / hand-written delivered msg/s: @deno ${
      (rows[1]!.perSecond / rows[0]!.perSecond).toFixed(2)
    }x, @node ${(rows[2]!.perSecond / rows[0]!.perSecond).toFixed(2)}x`,
  );
}

if (values.only !== "fanout") {
  const servers = number("servers");
  const clients = number("redis-clients");
  const publish = {
    publishers: number("publishers"),
    messages: number("messages"),
    interval: number("interval"),
  };
  console.log(
    `redis: ${servers} server processes on one Redis, ${clients} clients in ${
      number("procs")
    } processes, ${publish.publishers} publishers x ${publish.messages} messages of ${
      number("size")
    } B, one each every ${publish.interval} ms`,
  );
  const given = Deno.env.get("REDIS_URL");
  await using owned = given === undefined
    ? await RedisServer.start("redis-server")
    : undefined;
  const env = { REDIS_URL: given ?? owned!.url };
  const modes = ["socketio", "hub-redis@deno", "hub-redis@node"];
  const run = async (load: typeof publish) => {
    const rows = [];
    for (const mode of modes) {
      const expected = load.publishers * load.messages;
      rows.push(await measure(mode, servers, clients, expected, load, env));
    }
    print(rows);
    for (const row of rows.slice(1)) {
      console.log(
        `${row.mode} / Socket.IO: delivered msg/s ${
          (row.perSecond / rows[0]!.perSecond).toFixed(2)
        }x, server CPU per delivery ${
          (row.cpuPerDelivery / rows[0]!.cpuPerDelivery).toFixed(2)
        }x, p99 ${(row.p99 / rows[0]!.p99).toFixed(2)}x, peak RSS ${
          (row.peakRssMiB / rows[0]!.peakRssMiB).toFixed(2)
        }x`,
      );
    }
  };
  await run(publish);
  const light = {
    publishers: number("latency-publishers"),
    messages: publish.messages,
    interval: number("latency-interval"),
  };
  console.log(
    `redis, below capacity: ${light.publishers} publishers x ${light.messages} messages, one each every ${light.interval} ms`,
  );
  await run(light);
}
