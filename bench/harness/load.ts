/**
 * `deno task load`: one server process holding 1,000 concurrent connections
 * that echo for a bounded time, once upgraded with `upgradeWebSocketStream`
 * and once with plain `Deno.upgradeWebSocket`, then 5,000 sequential
 * open/close cycles. Prints a figures table and exits 1 when a goal is
 * missed: every connection held, no errors, descriptors back where they
 * started, server memory flat after the churn.
 *
 * Environment: LOAD_CONNECTIONS (1000), LOAD_SECONDS (5), LOAD_CYCLES (5000).
 *
 * @module
 */

import { WebSocketStream } from "../../mod.ts";
import {
  ensureOpenFiles,
  type LoadServer,
  mib,
  openFds,
  openFilesLimit,
  printTable,
  type ServerStats,
  sleep,
  startLoadServer,
} from "./_load_stats.ts";

const CONNECTIONS = Number(Deno.env.get("LOAD_CONNECTIONS") ?? 1000);
const SECONDS = Number(Deno.env.get("LOAD_SECONDS") ?? 5);
const CYCLES = Number(Deno.env.get("LOAD_CYCLES") ?? 5000);
/** Connections opened at once while ramping up. */
const RAMP = 50;
/** Pause between one client's echo round trips, in ms. */
const PACE_MS = 100;
/** How much the server's live memory may grow over the churn. */
const CHURN_MEMORY_LIMIT = 8 * 1024 * 1024;
/** How many descriptors may differ after the churn (timing of closes). */
const FD_SLACK = 2;

interface HoldResult {
  held: number;
  messages: number;
  errors: number;
  before: ServerStats;
  open: ServerStats;
  after: ServerStats;
  peakRss: number;
}

/** One echoing client: round trips every PACE_MS until `until`. */
async function echoClient(
  wss: WebSocketStream,
  until: number,
): Promise<number> {
  const { readable, writable } = await wss.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  let messages = 0;
  const payload = "x".repeat(64);
  while (performance.now() < until) {
    await writer.write(payload);
    const { value } = await reader.read();
    if (value !== payload) throw new Error("The echo did not match");
    messages++;
    await sleep(PACE_MS);
  }
  writer.releaseLock();
  reader.releaseLock();
  return messages;
}

async function hold(mode: "ours" | "plain"): Promise<HoldResult> {
  const server = await startLoadServer([`--mode=${mode}`]);
  try {
    const before = await server.stats();
    const clients: WebSocketStream[] = [];
    let errors = 0;
    for (let i = 0; i < CONNECTIONS; i += RAMP) {
      const batch = Array.from(
        { length: Math.min(RAMP, CONNECTIONS - i) },
        () => new WebSocketStream(`${server.url}/echo`),
      );
      const opened = await Promise.allSettled(batch.map((w) => w.opened));
      opened.forEach((result, j) => {
        if (result.status === "fulfilled") clients.push(batch[j]!);
        else errors++;
      });
    }
    const open = await server.stats();
    const until = performance.now() + SECONDS * 1000;
    const echoed = await Promise.allSettled(
      clients.map((wss) => echoClient(wss, until)),
    );
    let messages = 0;
    for (const result of echoed) {
      if (result.status === "fulfilled") messages += result.value;
      else errors++;
    }
    for (const wss of clients) wss.close({ closeCode: 1000 });
    const closed = await Promise.allSettled(clients.map((w) => w.closed));
    errors += closed.filter((result) => result.status === "rejected").length;
    // The server counts a connection closed once its close event has run.
    let after = await server.stats();
    for (let i = 0; i < 50 && after.open > 0; i++) {
      await sleep(100);
      after = await server.stats();
    }
    errors += after.errors;
    return {
      held: open.open,
      messages: messages * 2,
      errors,
      before,
      open,
      after,
      peakRss: after.peakRss,
    };
  } finally {
    await server.stop();
  }
}

interface ChurnResult {
  errors: number;
  clientFds: [number, number];
  serverFds: [number, number];
  serverHeap: [number, number];
  serverRss: [number, number];
  seconds: number;
}

async function churn(server: LoadServer): Promise<ChurnResult> {
  // A few cycles first, so lazily made things (TLS-free as it is) exist in
  // both measurements.
  const cycle = async () => {
    const wss = new WebSocketStream(`${server.url}/echo`);
    await wss.opened;
    wss.close();
    await wss.closed;
  };
  for (let i = 0; i < 20; i++) await cycle();
  await sleep(100);
  const before = await server.stats();
  const clientFdsBefore = await openFds();
  let errors = 0;
  const start = performance.now();
  for (let i = 0; i < CYCLES; i++) {
    try {
      await cycle();
    } catch {
      errors++;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  await sleep(200);
  const after = await server.stats();
  errors += after.errors;
  return {
    errors,
    clientFds: [clientFdsBefore, await openFds()],
    serverFds: [before.fds, after.fds],
    serverHeap: [before.heapUsed, after.heapUsed],
    serverRss: [before.rss, after.rss],
    seconds,
  };
}

const raised = await ensureOpenFiles(CONNECTIONS * 2 + 256);
if (raised !== undefined) Deno.exit(raised);

const limit = await openFilesLimit();
console.log(
  `Load: ${CONNECTIONS} connections echoing for ${SECONDS} s, then ${CYCLES} open/close cycles (open-files limit ${limit.soft}/${limit.hard})`,
);
const plain = await hold("plain");
const ours = await hold("ours");
async function churnWith(mode: "ours" | "plain"): Promise<ChurnResult> {
  const server = await startLoadServer([`--mode=${mode}`]);
  return await churn(server).finally(() => server.stop());
}
const churned = await churnWith("ours");
const churnedPlain = await churnWith("plain");

const perConnection = (result: HoldResult, key: "rss" | "heapUsed") =>
  (result.open[key] - result.before[key]) / Math.max(result.held, 1) / 1024;
const holdRows = (name: string, result: HoldResult): [string, string][] => [
  [`${name}: connections held`, `${result.held} / ${CONNECTIONS}`],
  [`${name}: messages exchanged`, `${result.messages}`],
  [`${name}: errors`, `${result.errors}`],
  [`${name}: server peak RSS`, `${mib(result.peakRss)} MiB`],
  [
    `${name}: server RSS per connection`,
    `${perConnection(result, "rss").toFixed(1)} KiB`,
  ],
  [
    `${name}: server heap per connection`,
    `${perConnection(result, "heapUsed").toFixed(1)} KiB`,
  ],
  [
    `${name}: server fds before/open/after`,
    `${result.before.fds} / ${result.open.fds} / ${result.after.fds}`,
  ],
];
const heapGrowth = churned.serverHeap[1] - churned.serverHeap[0];
printTable("Load figures", [
  ...holdRows("ours (upgradeWebSocketStream)", ours),
  ...holdRows("plain (Deno.upgradeWebSocket)", plain),
  [
    "ours vs plain: heap per connection",
    `${
      (perConnection(ours, "heapUsed") - perConnection(plain, "heapUsed"))
        .toFixed(1)
    } KiB more`,
  ],
  [`churn: cycles`, `${CYCLES} in ${churned.seconds.toFixed(1)} s`],
  [`churn: errors`, `${churned.errors}`],
  [`churn: client fds before/after`, churned.clientFds.join(" / ")],
  [`churn: server fds before/after`, churned.serverFds.join(" / ")],
  [
    `churn: server heap before/after`,
    `${mib(churned.serverHeap[0])} / ${mib(churned.serverHeap[1])} MiB`,
  ],
  [
    `churn: server RSS before/after`,
    `${mib(churned.serverRss[0])} / ${mib(churned.serverRss[1])} MiB`,
  ],
  [
    `churn (plain server): errors, heap, RSS`,
    `${churnedPlain.errors}, ${mib(churnedPlain.serverHeap[0])} / ${
      mib(churnedPlain.serverHeap[1])
    } MiB, ${mib(churnedPlain.serverRss[0])} / ${
      mib(churnedPlain.serverRss[1])
    } MiB`,
  ],
]);

const failures = [
  ...[ours, plain].flatMap((result) => [
    result.held < CONNECTIONS ? `held only ${result.held}` : "",
    result.errors > 0 ? `${result.errors} errors while holding` : "",
    result.after.open > 0 ? `${result.after.open} left open` : "",
    result.after.fds > result.before.fds + FD_SLACK ? "server fds leaked" : "",
  ]),
  churned.errors > 0 ? `${churned.errors} churn errors` : "",
  Math.abs(churned.clientFds[1] - churned.clientFds[0]) > FD_SLACK
    ? "client fds leaked over the churn"
    : "",
  Math.abs(churned.serverFds[1] - churned.serverFds[0]) > FD_SLACK
    ? "server fds leaked over the churn"
    : "",
  heapGrowth > CHURN_MEMORY_LIMIT
    ? `server heap grew ${mib(heapGrowth)} MiB over the churn`
    : "",
].filter((failure) => failure !== "");
console.log(
  failures.length === 0 ? "\nPASS" : `\nFAIL: ${failures.join("; ")}`,
);
Deno.exit(failures.length === 0 ? 0 : 1);
