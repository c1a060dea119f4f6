/**
 * `deno task bench:hub`: one server process fans out to SUBSCRIBERS clients
 * spread over client processes, through the hub and through a hand-written
 * `for (const ws of sockets) ws.send(m)` loop over `Deno.upgradeWebSocket`,
 * side by side: delivered messages/s, p50/p99 publish-to-receive latency,
 * server peak RSS.
 *
 * Flags: `--subscribers=1000 --messages=200 --size=100 --procs=4`.
 *
 * @module
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    subscribers: { type: "string", default: "1000" },
    messages: { type: "string", default: "200" },
    size: { type: "string", default: "100" },
    procs: { type: "string", default: "4" },
  },
});
const subscribers = Number(values.subscribers);
const messages = Number(values.messages);
const size = Number(values.size);
const procs = Number(values.procs);
const HERE = new URL("./", import.meta.url);

interface ClientResult {
  received: number;
  closedEarly: number;
  lastAt: number;
  latencies: number[];
}

/** Starts `deno run -A <script> <args>`; resolves each stdout line. */
function start(script: string, args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(script, HERE).pathname, ...args],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream())
    .pipeThrough(
      new TransformStream<string, string>({
        start() {},
        transform(chunk, controller) {
          for (const line of chunk.split("\n")) {
            if (line !== "") controller.enqueue(line);
          }
        },
      }),
    ).getReader();
  return {
    child,
    async line(): Promise<string> {
      const { value, done } = await lines.read();
      if (done) throw new Error(`${script} ended early`);
      return value;
    },
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await lines.cancel();
      await child.status;
    },
  };
}

async function measure(mode: "hub" | "plain") {
  const server = start("_server.ts", [mode]);
  try {
    const port = (await server.line()).split(" ")[1];
    const per = Math.ceil(subscribers / procs);
    const clients = Array.from(
      { length: procs },
      (_, i) =>
        start("_clients.ts", [
          `ws://127.0.0.1:${port}/`,
          String(Math.min(per, subscribers - i * per)),
          String(messages),
        ]),
    );
    try {
      for (const client of clients) await client.line();
      const goAt = performance.timeOrigin + performance.now();
      await (await fetch(
        `http://127.0.0.1:${port}/go?messages=${messages}&size=${size}`,
      )).text();
      const results: ClientResult[] = await Promise.all(
        clients.map(async (client) => JSON.parse(await client.line())),
      );
      const stats = await (await fetch(`http://127.0.0.1:${port}/stats`))
        .json();
      const received = results.reduce((sum, r) => sum + r.received, 0);
      const lastAt = Math.max(...results.map((r) => r.lastAt));
      const latencies = results.flatMap((r) => r.latencies).sort((a, b) =>
        a - b
      );
      const at = (q: number) =>
        latencies[
          Math.min(latencies.length - 1, Math.floor(q * latencies.length))
        ] ?? NaN;
      return {
        mode,
        received,
        expected: subscribers * messages,
        perSecond: received / ((lastAt - goAt) / 1000),
        p50: at(0.5),
        p99: at(0.99),
        peakRssMiB: stats.peakRss / 2 ** 20,
        closedEarly: results.reduce((sum, r) => sum + r.closedEarly, 0),
      };
    } finally {
      await Promise.all(clients.map((client) => client.stop()));
    }
  } finally {
    await server.stop();
  }
}

console.log(
  `${subscribers} subscribers in ${procs} processes, ${messages} messages of ${size} B, one server process, loopback`,
);
const rows = [];
for (const mode of ["plain", "hub"] as const) rows.push(await measure(mode));
const [plain, hub] = rows;
for (const row of rows) {
  console.log(
    `${
      row.mode === "hub" ? "hub          " : "hand-written "
    } delivered ${row.received}/${row.expected}` +
      `  ${Math.round(row.perSecond).toLocaleString("en")} msg/s` +
      `  p50 ${row.p50.toFixed(1)} ms  p99 ${row.p99.toFixed(1)} ms` +
      `  server peak RSS ${
        row.peakRssMiB.toFixed(0)
      } MiB  closed early ${row.closedEarly}`,
  );
}
console.log(
  `hub / hand-written delivered msg/s: ${
    (hub!.perSecond / plain!.perSecond).toFixed(2)
  }x`,
);
