/**
 * `deno task bench`: ours, with each of its transports, against Deno's plain
 * `WebSocket` and Deno's native `WebSocketStream`, side by side in one run;
 * and ours' two server paths (`upgradeWebSocketStream` in `Deno.serve`,
 * `handleUpgrade` on `node:http`) against a plain `Deno.upgradeWebSocket`
 * server.
 * A separate server process serves every client workload; each measurement
 * runs in a fresh client process; every figure is the median of `--reps`
 * runs, and ratios compare medians from this run only.
 *
 * Flags:
 * - `--reps=N` (default 5) runs per measurement for the cases whose targets
 *   are about stability (handshakes, echo 16 KiB at window 64, upload, and
 *   the server's upload and echo 16 KiB); every other case runs
 *   `min(N, 3)` times, which keeps a full run near 11 minutes.
 * - `--quick` cuts every workload down, for trying the script out; the
 *   default sizes are the issue's (256 MiB transfers, 1,000 handshakes,
 *   1,000 idle connections).
 * - `--only=ID,ID` runs only the cases whose id starts with one of these;
 *   `--only=server` runs the server-side comparisons alone.
 * - `--out=DIR` (default `bench/results/`) where results.json, results.md and
 *   results.svg go.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type CaseResult, evaluateTargets, type Variant } from "./targets.ts";
import { renderMarkdown, renderSvg, renderTable } from "./report.ts";
import type { Machine } from "./machine.ts";
import { type ChildServer, startChildServer } from "./_child_server.ts";
import type { ServerMode } from "./server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    reps: { type: "string", default: "5" },
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    out: { type: "string" },
  },
});
const reps = Number(values.reps);
/** Runs of the cases whose targets are not about stability. */
const OTHER_REPS = Math.min(reps, 3);
const quick = values.quick;
const only = values.only?.split(",");
const outDir = values.out === undefined
  ? new URL("../results/", import.meta.url)
  : new URL(`${values.out.replace(/\/?$/, "/")}`, `file://${Deno.cwd()}/`);

const MIB = 1024 * 1024;
const KIB = 1024;
const TRANSFER = quick ? 32 * MIB : 256 * MIB;
/** Past this a client process is stuck, not slow. */
const CLIENT_TIMEOUT_MS = 180_000;

const plain: Variant = {
  id: "plain",
  label: "plain WebSocket",
  client: "plain",
};
const ours: Variant = { id: "ours", label: "ours", client: "ours" };
const oursSocket: Variant = {
  id: "ours-socket",
  label: "ours, socket transport",
  client: "ours",
  args: ["--transport=socket"],
};
const native: Variant = {
  id: "native",
  label: "Deno WebSocketStream",
  client: "native",
};
/** Every client, in the order each case lists them. */
const clients = [plain, ours, oursSocket, native];
/** The upload variants that compare write high-water marks. */
function highWaterMarkVariants(): Variant[] {
  return [256 * KIB, 4 * MIB].map((hwm) => ({
    id: `ours-${hwm / KIB}k`,
    label: `ours, writeHighWaterMark ${hwm / KIB} KiB`,
    client: "ours",
    args: [`--hwm=${hwm}`],
  }));
}

interface Case {
  id: string;
  title: string;
  workload: string;
  args: string[];
  variants: Variant[];
  /**
   * Server-side cases start a fresh server per measurement, in each
   * variant's `server` mode, so that its memory figures are its own.
   */
  serverModes?: boolean;
  /** Its targets are about stability: it runs `--reps` times, not fewer. */
  stability?: boolean;
}

/**
 * The server paths compared, under the ids of the client variants built the
 * same way: ours on Deno's WebSocket, and ours speaking the protocol itself.
 */
const servers = {
  plain: { id: "plain", label: "Deno.upgradeWebSocket", server: "plain" },
  ours: {
    id: "ours",
    label: "upgradeWebSocketStream (Deno.serve)",
    server: "ours",
  },
  node: {
    id: "ours-socket",
    label: "handleUpgrade (node:http)",
    server: "node",
  },
} satisfies Record<ServerMode, Omit<Variant, "client">>;

/** A server-side case: one client, a server per variant. */
const serverCase = (
  testCase: Omit<Case, "variants" | "serverModes">,
  client: Omit<Variant, "id" | "label">,
  modes: ServerMode[],
): Case => ({
  ...testCase,
  variants: modes.map((mode) => ({ ...client, ...servers[mode] })),
  serverModes: true,
});

/** The `--count` and `--warmup` of an echo of `count` round trips. */
const echoCount = (count: number) => [
  `--count=${count}`,
  `--warmup=${Math.ceil(count / 10)}`,
];

/**
 * An echo case. `socketCount`, when given, is the socket transport's own
 * count: where the other clients wait ~44 ms per round trip for Nagle's
 * algorithm, their count would last the socket transport a few milliseconds,
 * which measures code not yet compiled, not throughput.
 */
const echo = (
  id: string,
  title: string,
  args: string[],
  count: number,
  stability = false,
  socketCount?: number,
): Case => ({
  id,
  title,
  workload: "echo",
  args: [...args, ...echoCount(count)],
  variants: socketCount === undefined
    ? clients
    : clients.map((variant) =>
      variant === oursSocket
        ? { ...variant, args: [...variant.args!, ...echoCount(socketCount)] }
        : variant
    ),
  stability,
});

/** The client a server-side case runs, by the id suffix of its case. */
const serverClients = {
  "": { client: "plain", label: "a plain WebSocket client" },
  "-ours": { client: "ours", label: "our client" },
} as const;

/** Echo at window 64 from one client, against each server path. */
const serverEcho = (
  id: string,
  title: string,
  args: string[],
  count: number,
  by: keyof typeof serverClients,
  stability = false,
): Case =>
  serverCase(
    {
      id: `server-echo-${id}-w64${by}`,
      title: `Server: echo ${title}, window 64, to ${serverClients[by].label}`,
      workload: "echo",
      args: [
        ...args,
        "--window=64",
        `--count=${quick ? count / 10 : count}`,
        `--warmup=${count / 100}`,
      ],
      stability,
    },
    { client: serverClients[by].client },
    ["plain", "ours", "node"],
  );

/** An upload from one client into a sink on each server path. */
const serverUpload = (by: keyof typeof serverClients): Case =>
  serverCase(
    {
      id: `server-upload${by}`,
      title: `Server: upload ${
        TRANSFER / MIB
      } MiB in 64 KiB messages into a sink, from ${serverClients[by].label}`,
      workload: "upload",
      args: ["--size=65536", `--bytes=${TRANSFER}`],
      stability: true,
    },
    { client: serverClients[by].client },
    ["plain", "ours", "node"],
  );

const cases: Case[] = [
  echo("echo-64-w1", "Echo 64 B text, window 1", [
    "--size=64",
    "--text",
    "--window=1",
  ], quick ? 1000 : 10_000),
  echo("echo-64-w64", "Echo 64 B text, window 64", [
    "--size=64",
    "--text",
    "--window=64",
  ], quick ? 10_000 : 100_000),
  // Nagle's algorithm costs these ~44 ms each; see the README.
  echo(
    "echo-16k-w1",
    "Echo 16 KiB binary, window 1",
    ["--size=16384", "--window=1"],
    quick ? 10 : 40,
    false,
    quick ? 2_000 : 20_000,
  ),
  echo(
    "echo-16k-w64",
    "Echo 16 KiB binary, window 64",
    [
      "--size=16384",
      "--window=64",
    ],
    quick ? 5000 : 40_000,
    true,
  ),
  {
    id: "upload",
    title: `Upload ${TRANSFER / MIB} MiB in 64 KiB messages`,
    workload: "upload",
    args: ["--size=65536", `--bytes=${TRANSFER}`],
    variants: [...clients, ...highWaterMarkVariants()],
    stability: true,
  },
  {
    id: "download",
    title: `Download ${TRANSFER / MIB} MiB, reader at 20 MB/s`,
    workload: "download",
    args: ["--size=65536", `--bytes=${TRANSFER}`, "--rate=20000000"],
    variants: clients,
  },
  {
    id: "handshakes",
    title: "Sequential open/close handshakes",
    workload: "handshakes",
    // Enough handshakes that a run outlasts the process start-up's noise.
    args: [`--count=${quick ? 100 : 1000}`, "--warmup=50"],
    variants: clients,
    stability: true,
  },
  serverEcho("64", "64 B text", ["--size=64", "--text"], 100_000, ""),
  serverEcho("16k", "16 KiB binary", ["--size=16384"], 40_000, "", true),
  serverEcho("16k", "16 KiB binary", ["--size=16384"], 40_000, "-ours", true),
  serverUpload(""),
  serverUpload("-ours"),
  serverCase(
    {
      id: "server-receive",
      title: `Server: receive ${
        TRANSFER / MIB
      } MiB into a handler that reads at 20 MB/s`,
      workload: "receive",
      args: ["--size=65536", `--bytes=${TRANSFER}`, "--rate=20000000"],
    },
    { client: "ours", args: ["--transport=socket"] },
    ["ours", "node"],
  ),
  serverCase(
    {
      id: "server-idle",
      title: `Server: ${quick ? 200 : 1000} idle connections`,
      workload: "idle",
      args: [`--count=${quick ? 200 : 1000}`, "--warmup=50"],
    },
    { client: "plain" },
    ["plain", "ours", "node"],
  ),
];

function startServer(mode: ServerMode = "plain"): Promise<ChildServer> {
  return startChildServer(new URL("./server.ts", import.meta.url), [
    `--mode=${mode}`,
  ]);
}

async function measure(
  testCase: Case,
  variant: Variant,
  url: string,
): Promise<Record<string, unknown>> {
  // Deno grants /proc/self/status (the kernel's peak RSS) and /proc/cpuinfo
  // only to --allow-all.
  const flags = ["--allow-all"];
  if (variant.client === "native") flags.push("--unstable-net");
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...flags,
      new URL("./client.ts", import.meta.url).pathname,
      `--client=${variant.client}`,
      `--workload=${testCase.workload}`,
      `--url=${url}`,
      ...testCase.args,
      ...variant.args ?? [],
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
  }).output();
  const decoder = new TextDecoder();
  if (code !== 0) {
    throw new Error(
      `${testCase.id} / ${variant.id} failed with exit code ${code}:\n${
        decoder.decode(stderr)
      }`,
    );
  }
  return JSON.parse(decoder.decode(stdout).trim().split("\n").at(-1)!);
}

const selected = cases.filter((testCase) =>
  only === undefined || only.some((prefix) => testCase.id.startsWith(prefix))
);
const repsOf = (testCase: Case) => testCase.stability ? reps : OTHER_REPS;
const results: CaseResult[] = selected.map((testCase) => ({
  id: testCase.id,
  title: testCase.title,
  workload: testCase.workload,
  reps: repsOf(testCase),
  variants: testCase.variants.map((variant) => ({ variant, samples: [] })),
}));

const started = performance.now();
// Client cases share one plain server; a run of server cases needs none.
const server = selected.every((testCase) => testCase.serverModes)
  ? undefined
  : await startServer();
try {
  for (let rep = 0; rep < reps; rep++) {
    for (const [index, testCase] of selected.entries()) {
      if (rep >= repsOf(testCase)) continue;
      // Rotating the order spreads any drift of the shared machine or server
      // over every variant instead of always favouring the first.
      const order = testCase.variants.map((_, i) =>
        (i + rep) % testCase.variants.length
      );
      for (const i of order) {
        const variant = testCase.variants[i]!;
        let sample: Record<string, unknown>;
        if (testCase.serverModes) {
          const own = await startServer(variant.server);
          try {
            sample = await measure(testCase, variant, own.url);
          } finally {
            await own.stop();
          }
        } else {
          sample = await measure(testCase, variant, server!.url);
        }
        results[index]!.variants[i]!.samples.push(sample);
        const seconds = ((performance.now() - started) / 1000).toFixed(0);
        console.error(
          `[${seconds}s] rep ${rep + 1}/${
            repsOf(testCase)
          } ${testCase.id} ${variant.id}`,
        );
      }
    }
  }
} finally {
  await server?.stop();
}

const targets = evaluateTargets(results);
const machine = await measure(
  { id: "machine", title: "", workload: "machine", args: [], variants: [] },
  plain,
  "",
);
const report = {
  machine: machine as unknown as Machine,
  command: `deno task bench${
    Deno.args.length ? ` ${Deno.args.join(" ")}` : ""
  }`,
  date: new Date().toISOString(),
  reps,
  otherReps: OTHER_REPS,
  quick,
  durationSeconds: (performance.now() - started) / 1000,
  targets,
  cases: results,
};
console.log(renderTable(report));
await Deno.mkdir(outDir, { recursive: true });
await Deno.writeTextFile(
  new URL("results.json", outDir),
  JSON.stringify(report, null, 2) + "\n",
);
await Deno.writeTextFile(new URL("results.md", outDir), renderMarkdown(report));
await Deno.writeTextFile(new URL("results.svg", outDir), renderSvg(report));
console.error(
  `Wrote results.json, results.md and results.svg to ${outDir.pathname}`,
);
