/**
 * `deno task bench:compression`: permessage-deflate on and off, with our
 * socket-transport client and a `handleUpgrade` server each in a process of
 * their own (`compression_client.ts`, `compression_server.ts`), so both roles
 * compress and each one's CPU is measured apart.
 *
 * - A JSON chat workload (200 B to 4 KiB) and a random-bytes workload of the
 *   same sizes, echoed: bytes on the wire (both ways, on the server's
 *   sockets), messages/s, client and server CPU per message. Off and on run
 *   alternately, `--reps` times each, and the report gives medians.
 * - Idle connections (each after one 2 KiB message each way), per server
 *   setting: the server's memory per connection, uncompressed and with
 *   each setting.
 *
 * Flags: `--reps=N` (default 5), `--count=N` messages per run (default
 * 5000), `--idle=N` connections (default 300; 0 skips them), `--on=JSON` the compression
 * options "on" means (default `{}`, the defaults), `--out=DIR` (default
 * `bench/results/`) where compression.json and compression.md go.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { CompressionOptions } from "../../mod.ts";
import { startChildServer } from "./_child_server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    reps: { type: "string", default: "5" },
    count: { type: "string", default: "5000" },
    idle: { type: "string", default: "300" },
    on: { type: "string", default: "{}" },
    out: { type: "string" },
  },
});
const reps = Number(values.reps);
const on: CompressionOptions = JSON.parse(values.on);
const outDir = values.out === undefined
  ? new URL("../results/", import.meta.url)
  : new URL(`${values.out.replace(/\/?$/, "/")}`, `file://${Deno.cwd()}/`);

type Sample = Record<string, number>;

async function runClient(
  url: string,
  workload: string,
  compression: CompressionOptions | false,
  count: string,
): Promise<Sample> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("./compression_client.ts", import.meta.url).pathname,
      `--url=${url}`,
      `--workload=${workload}`,
      `--compression=${JSON.stringify(compression)}`,
      `--count=${count}`,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const decoder = new TextDecoder();
  if (code !== 0) {
    throw new Error(`${workload} failed: ${decoder.decode(stderr)}`);
  }
  return JSON.parse(decoder.decode(stdout).trim().split("\n").at(-1)!);
}

function startServer() {
  return startChildServer(
    new URL("./compression_server.ts", import.meta.url),
    [],
  );
}

function median(samples: Sample[], key: string): number {
  const sorted = samples.map((sample) => sample[key]!).sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? sorted[middle]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const started = performance.now();
const throughput: Record<string, { off: Sample[]; on: Sample[] }> = {
  json: { off: [], on: [] },
  random: { off: [], on: [] },
};
const server = await startServer();
try {
  for (let rep = 0; rep < reps; rep++) {
    for (const [workload, samples] of Object.entries(throughput)) {
      // Alternating which goes first spreads the shared machine's drift.
      const order = rep % 2 ? ["on", "off"] as const : ["off", "on"] as const;
      for (const which of order) {
        samples[which].push(
          await runClient(
            server.url,
            workload,
            which === "on" ? on : false,
            values.count,
          ),
        );
        console.error(
          `[${((performance.now() - started) / 1000).toFixed(0)}s] rep ${
            rep + 1
          }/${reps} ${workload} ${which}`,
        );
      }
    }
  }
} finally {
  await server.stop();
}

const settings: [string, CompressionOptions | false][] = [
  ["off", false],
  ["default (context takeover, 15-bit windows)", on],
  ["no context takeover either way", {
    ...on,
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
  }],
  ["window bits 10 both ways", {
    ...on,
    serverMaxWindowBits: 10,
    clientMaxWindowBits: 10,
  }],
];
const idle: { setting: string; sample: Sample }[] = [];
for (const [setting, compression] of Number(values.idle) > 0 ? settings : []) {
  const own = await startServer();
  try {
    idle.push({
      setting,
      sample: await runClient(own.url, "idle", compression, values.idle),
    });
  } finally {
    await own.stop();
  }
}

const rows = Object.entries(throughput).map(([workload, samples]) => {
  const figures = (which: "off" | "on") => ({
    payloadBytes: median(samples[which], "payloadBytes"),
    wireBytes: median(samples[which], "wireBytes"),
    messagesPerSecond: median(samples[which], "messagesPerSecond"),
    clientCpu: median(samples[which], "clientCpuMicrosPerMessage"),
    serverCpu: median(samples[which], "serverCpuMicrosPerMessage"),
  });
  const off = figures("off");
  const compressed = figures("on");
  const ratios = samples.on.map((sample, i) =>
    sample.messagesPerSecond! / samples.off[i]!.messagesPerSecond!
  );
  return {
    workload,
    off,
    on: compressed,
    wireReduction: off.wireBytes / compressed.wireBytes,
    speed: compressed.messagesPerSecond / off.messagesPerSecond,
    speedSpread: { low: Math.min(...ratios), high: Math.max(...ratios) },
  };
});
const [json, randomBytes] = rows;
const targets = [
  {
    label: "JSON chat: wire bytes, off / on",
    figure: json!.wireReduction,
    target: 3,
  },
  {
    label: "JSON chat: messages/s, on / off",
    figure: json!.speed,
    target: 0.5,
  },
  {
    label: "random bytes: messages/s, on / off",
    figure: randomBytes!.speed,
    target: 0.9,
  },
].map((target) => ({ ...target, met: target.figure >= target.target }));

const report = {
  command: `deno task bench:compression${
    Deno.args.length ? ` ${Deno.args.join(" ")}` : ""
  }`,
  date: new Date().toISOString(),
  reps,
  on,
  durationSeconds: (performance.now() - started) / 1000,
  targets,
  throughput: rows,
  idle,
};

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const md = [
  "# permessage-deflate benchmark",
  "",
  `Generated by \`${report.command}\` on ${report.date} in ${
    report.durationSeconds.toFixed(0)
  } s; medians of ${reps} alternating runs; "on" is \`${
    JSON.stringify(on)
  }\` on both ends. Do not edit by hand.`,
  "",
  "| target | figure | target | |",
  "| --- | ---: | ---: | --- |",
  ...targets.map((t) =>
    `| ${t.label} | ${t.figure.toFixed(2)}x | ≥ ${t.target}x | ${
      t.met ? "met" : "missed"
    } |`
  ),
  "",
  "| workload | compression | payload both ways | on the wire | messages/s | client CPU/message | server CPU/message |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ...rows.flatMap((row) =>
    (["off", "on"] as const).map((which) => {
      const f = row[which];
      return `| ${row.workload} | ${which} | ${kib(f.payloadBytes)} | ${
        kib(f.wireBytes)
      } | ${f.messagesPerSecond.toFixed(0)} | ${f.clientCpu.toFixed(1)} µs | ${
        f.serverCpu.toFixed(1)
      } µs |`;
    })
  ),
  "",
  ...rows.map((row) =>
    `${row.workload}: ${row.wireReduction.toFixed(2)}x fewer bytes, ${
      row.speed.toFixed(2)
    }x the messages/s (per-run ratios ${row.speedSpread.low.toFixed(2)}x–${
      row.speedSpread.high.toFixed(2)
    }x).`
  ),
  "",
  `| server setting | RSS per idle connection | JS heap per idle connection |`,
  "| --- | ---: | ---: |",
  ...idle.map(({ setting, sample }) =>
    `| ${setting} | ${kib(sample.serverRssPerConnection!)} | ${
      kib(sample.serverHeapPerConnection!)
    } |`
  ),
  "",
].join("\n");

console.log(md);
await Deno.mkdir(outDir, { recursive: true });
await Deno.writeTextFile(
  new URL("compression.json", outDir),
  JSON.stringify(report, null, 2) + "\n",
);
await Deno.writeTextFile(new URL("compression.md", outDir), md);
console.error(
  `Wrote compression.json and compression.md to ${outDir.pathname}`,
);
