/**
 * `deno task soak`: SOAK_SECONDS (60) of streaming in both directions over
 * SOAK_CONNECTIONS (4) connections between this process (the client) and a
 * server process, both upgraded by this library, each end writing at a
 * steady rate while its reader stops every few seconds. The receive queue
 * fills and drains without reaching receiveLimit, and memory must stay flat:
 * the server's live heap may not trend upwards, and neither process's RSS may
 * pass its baseline plus the configured buffers. Prints a figures table and
 * exits 1 when a goal is missed.
 *
 * @module
 */

import { WebSocketStream } from "../../mod.ts";
import {
  mib,
  peakRssOf,
  printTable,
  processFigures,
  type ServerStats,
  sleep,
  startLoadServer,
} from "./_load_stats.ts";
import {
  SOAK_TRAFFIC,
  soakTraffic,
  type TrafficTally,
} from "./_soak_traffic.ts";

const SECONDS = Number(Deno.env.get("SOAK_SECONDS") ?? 60);
const CONNECTIONS = Number(Deno.env.get("SOAK_CONNECTIONS") ?? 4);
const RECEIVE_LIMIT = 4 * 1024 * 1024;
const WRITE_HIGH_WATER_MARK = 1024 * 1024;
/** Samples are taken this often; the first WARMUP_MS are not judged. */
const SAMPLE_MS = 5000;
const WARMUP_MS = 10_000;
/**
 * What the buffers may hold at most, per process: every connection's
 * receive queue and send buffer full at once.
 */
const BUFFER_BUDGET = CONNECTIONS * (RECEIVE_LIMIT + WRITE_HIGH_WATER_MARK);
/** Allowed growth of the server's live heap between the first and last thirds. */
const HEAP_TREND_LIMIT = 8 * 1024 * 1024;
/** Allocator and runtime slack on top of the buffers, for RSS. */
const RSS_SLACK = 64 * 1024 * 1024;

const server = await startLoadServer([
  "--mode=ours",
  `--receive-limit=${RECEIVE_LIMIT}`,
]);
const tally: TrafficTally = { sent: 0, received: 0, errors: 0 };
const samples: { at: number; server: ServerStats; clientRss: number }[] = [];
let failures: string[] = [];
try {
  const baseline = await server.stats();
  const clientBaseline = processFigures().rss;
  const clients = Array.from(
    { length: CONNECTIONS },
    () =>
      new WebSocketStream(`${server.url}/soak`, {
        receiveLimit: RECEIVE_LIMIT,
        writeHighWaterMark: WRITE_HIGH_WATER_MARK,
      }),
  );
  const running = clients.map(async (wss) =>
    soakTraffic(wss, await wss.opened, tally)
  );
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    await sleep(
      Math.min(SAMPLE_MS, SECONDS * 1000 - (performance.now() - start)),
    );
    samples.push({
      at: performance.now() - start,
      server: await server.stats(),
      clientRss: processFigures().rss,
    });
  }
  for (const wss of clients) wss.close({ closeCode: 1000 });
  await Promise.all(running);
  await sleep(200);
  const end = await server.stats();

  const judged = samples.filter((sample) => sample.at >= WARMUP_MS);
  const third = Math.max(1, Math.floor(judged.length / 3));
  const maxHeap = (list: typeof judged) =>
    Math.max(...list.map((sample) => sample.server.heapUsed));
  const heapTrend = judged.length === 0
    ? 0
    : maxHeap(judged.slice(-third)) - maxHeap(judged.slice(0, third));
  const clientPeak = await peakRssOf();
  const serverTally = end.soak;
  printTable("Soak figures", [
    ["duration", `${SECONDS} s, ${CONNECTIONS} connections`],
    [
      "traffic per direction",
      `${
        SOAK_TRAFFIC.messageBytes / 1024
      } KiB every ${SOAK_TRAFFIC.writeIntervalMs} ms per connection; readers stop ${SOAK_TRAFFIC.readerPauseMs} ms every ${SOAK_TRAFFIC.readerPeriodMs} ms`,
    ],
    [
      "limits",
      `receiveLimit ${mib(RECEIVE_LIMIT)} MiB, writeHighWaterMark ${
        mib(WRITE_HIGH_WATER_MARK)
      } MiB`,
    ],
    ["client sent / received", `${tally.sent} / ${tally.received} messages`],
    [
      "server sent / received",
      `${serverTally.sent} / ${serverTally.received} messages`,
    ],
    [
      "data moved",
      `${mib((tally.sent + serverTally.sent) * SOAK_TRAFFIC.messageBytes)} MiB`,
    ],
    [
      "errors (client + server)",
      `${tally.errors + serverTally.errors + end.errors}`,
    ],
    [
      "server heap samples (MiB)",
      samples.map((s) => mib(s.server.heapUsed)).join(" "),
    ],
    [
      "server RSS samples (MiB)",
      samples.map((s) => mib(s.server.rss)).join(" "),
    ],
    [
      "client RSS samples (MiB)",
      samples.map((s) => mib(s.clientRss)).join(" "),
    ],
    [
      "server heap trend after warm-up",
      `${mib(heapTrend)} MiB (limit ${mib(HEAP_TREND_LIMIT)})`,
    ],
    [
      "server peak RSS",
      `${mib(end.peakRss)} MiB (limit ${
        mib(baseline.rss + BUFFER_BUDGET + RSS_SLACK)
      })`,
    ],
    [
      "client peak RSS",
      `${mib(clientPeak)} MiB (limit ${
        mib(clientBaseline + BUFFER_BUDGET + RSS_SLACK)
      })`,
    ],
  ]);
  failures = [
    tally.errors + serverTally.errors + end.errors > 0 ? "errors" : "",
    tally.received === 0 || serverTally.received === 0 ? "no traffic" : "",
    heapTrend > HEAP_TREND_LIMIT ? "the server heap kept growing" : "",
    end.peakRss > baseline.rss + BUFFER_BUDGET + RSS_SLACK
      ? "server RSS beyond its budget"
      : "",
    clientPeak > clientBaseline + BUFFER_BUDGET + RSS_SLACK
      ? "client RSS beyond its budget"
      : "",
  ].filter((failure) => failure !== "");
} finally {
  await server.stop();
}
console.log(
  failures.length === 0 ? "\nPASS" : `\nFAIL: ${failures.join("; ")}`,
);
Deno.exit(failures.length === 0 ? 0 : 1);
