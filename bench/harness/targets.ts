/**
 * The targets, checked against the medians of one run.
 *
 * @module
 */

import type { ClientKind } from "./client.ts";
import type { ServerMode } from "./server.ts";

/** One client set-up a case measures. */
export interface Variant {
  id: string;
  label: string;
  client: ClientKind;
  /** Extra arguments for the client process. */
  args?: string[];
  /** For server-side cases, how the server it runs against upgrades. */
  server?: ServerMode;
}

/** Every sample of one variant in one case. */
export interface VariantResult {
  variant: Variant;
  samples: Record<string, unknown>[];
}

/** One workload with all its variants. */
export interface CaseResult {
  id: string;
  title: string;
  workload: string;
  /** How many runs the case had (older results: the report's `reps`). */
  reps?: number;
  variants: VariantResult[];
}

/** The variants the targets are for: ours, with each of its transports. */
export const JUDGED = ["ours", "ours-socket"] as const;
/** Every variant a target shows: ours', then native's for reference. */
export const COMPARED = [...JUDGED, "native"] as const;

/** The id of a variant the targets are checked for. */
export type JudgedId = typeof JUDGED[number];
/** The id of a variant a target shows a figure for. */
export type ComparedId = typeof COMPARED[number];

/** A target of the issue and how this run did against it. */
export interface TargetResult {
  id: string;
  label: string;
  /**
   * Each variant's figure, where its case ran it: a ratio to plain
   * `WebSocket`, or an absolute figure in `unit`.
   */
  figures: Partial<Record<ComparedId, number>>;
  /**
   * For ratios, the lowest and highest of the per-run ratios: each run
   * measures every client back to back, so these show the machine's drift.
   */
  spread?: Partial<Record<ComparedId, Spread>>;
  target: number;
  /** `min`: at least `target`; `max`: at most `target`. */
  kind: "min" | "max";
  unit: "x" | "MiB" | "KiB" | "closes";
  /** Whether each of ours' variants that ran meets the target. */
  met: Partial<Record<JudgedId, boolean>>;
}

/** The lowest and highest of a figure over the runs. */
export interface Spread {
  low: number;
  high: number;
}

const MIB = 1024 * 1024;
/** The library's default receive limit, which bounds the download. */
const RECEIVE_LIMIT_MIB = 16;

/** The median of a numeric field over a variant's samples. */
export function median(result: VariantResult, key: string): number {
  const sorted = result.samples.map((sample) => Number(sample[key]))
    .sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[middle]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The sum of a numeric (or boolean) field over a variant's samples. */
export function total(result: VariantResult, key: string): number {
  return result.samples.reduce((sum, sample) => sum + Number(sample[key]), 0);
}

/** The variant with this id in a case, if the case ran it. */
export function variantOf(
  result: CaseResult | undefined,
  id: string,
): VariantResult | undefined {
  return result?.variants.find((entry) => entry.variant.id === id);
}

/** Checks every target whose case ran. */
export function evaluateTargets(results: CaseResult[]): TargetResult[] {
  const targets: TargetResult[] = [];
  const byId = (id: string) => results.find((result) => result.id === id);
  const add = (target: Omit<TargetResult, "met">) => {
    const met: TargetResult["met"] = {};
    for (const variant of JUDGED) {
      const figure = target.figures[variant];
      if (figure === undefined) continue;
      met[variant] = target.kind === "min"
        ? figure >= target.target
        : figure <= target.target;
    }
    targets.push({ ...target, met });
  };
  /** `measure` of every compared variant the case ran, if it ran. */
  const figures = <T>(
    id: string,
    measure: (entry: VariantResult) => T,
  ): Partial<Record<ComparedId, T>> | undefined => {
    const result = byId(id);
    if (result === undefined) return undefined;
    const found: Partial<Record<ComparedId, T>> = {};
    for (const variant of COMPARED) {
      const entry = variantOf(result, variant);
      if (entry !== undefined) found[variant] = measure(entry);
    }
    return found;
  };
  /**
   * Each variant over `base` (plain, or Deno's native stream), by median,
   * and the range of the runs' ratios.
   */
  const ratios = (id: string, key: string, baseId = "plain") => {
    const base = variantOf(byId(id), baseId);
    if (base === undefined) return undefined;
    const others = (found: Partial<Record<ComparedId, unknown>>) => {
      delete found[baseId as ComparedId];
      return found;
    };
    return {
      figures: others(
        figures(id, (entry) => median(entry, key) / median(base, key))!,
      ) as Partial<Record<ComparedId, number>>,
      spread: others(
        figures(id, (entry): Spread => {
          // Each run measured every client back to back: pair them by run.
          const each = entry.samples.map((sample, run) =>
            Number(sample[key]) / Number(base.samples[run]?.[key])
          );
          return { low: Math.min(...each), high: Math.max(...each) };
        })!,
      ) as Partial<Record<ComparedId, Spread>>,
    };
  };
  /** The lowest of the runs' ratios as the figure, for stability targets. */
  const lowest = (ratio: NonNullable<ReturnType<typeof ratios>>) => {
    const low: Partial<Record<ComparedId, number>> = {};
    for (const [id, spread] of Object.entries(ratio.spread)) {
      low[id as ComparedId] = spread!.low;
    }
    return { figures: low };
  };
  const absolute = (id: string, key: string, scale: number) =>
    figures(id, (entry) => median(entry, key) / scale);

  const upload = ratios("upload", "megabytesPerSecond");
  if (upload) {
    add({
      id: "upload-throughput",
      label: "Upload MB/s vs naive plain send loop",
      ...upload,
      target: 1.4,
      kind: "min",
      unit: "x",
    });
    add({
      id: "upload-throughput-lowest",
      label: "Upload MB/s vs naive plain send loop, lowest run",
      ...lowest(upload),
      target: 1.4,
      kind: "min",
      unit: "x",
    });
    add({
      id: "upload-throughput-native",
      label: "Upload MB/s vs Deno WebSocketStream",
      ...ratios("upload", "megabytesPerSecond", "native")!,
      target: 1,
      kind: "min",
      unit: "x",
    });
    add({
      id: "upload-rss",
      label: "Upload client peak RSS",
      figures: absolute("upload", "peakRss", MIB)!,
      target: 130,
      kind: "max",
      unit: "MiB",
    });
  }
  for (
    const [id, name] of [["echo-64-w64", "64 B"], ["echo-16k-w64", "16 KiB"]]
  ) {
    const rate = ratios(id!, "messagesPerSecond");
    if (!rate) continue;
    const large = id === "echo-16k-w64";
    add({
      id: `${id}-rate`,
      label: `Echo ${name}, window 64: messages/s vs plain`,
      ...rate,
      target: large ? 1 : 0.95,
      kind: "min",
      unit: "x",
    });
    if (large) {
      add({
        id: `${id}-rate-native`,
        label: `Echo ${name}, window 64: messages/s vs Deno WebSocketStream`,
        ...ratios(id!, "messagesPerSecond", "native")!,
        target: 1,
        kind: "min",
        unit: "x",
      });
    }
    add({
      id: `${id}-cpu`,
      label: `Echo ${name}, window 64: CPU/message vs plain`,
      ...ratios(id!, "cpuMicrosPerMessage")!,
      target: 1.1,
      kind: "max",
      unit: "x",
    });
  }
  const download = absolute("download", "peakRss", MIB);
  if (download) {
    add({
      id: "download-rss",
      label: "Download with slow reader: client peak RSS",
      figures: download,
      target: RECEIVE_LIMIT_MIB + 64,
      kind: "max",
      unit: "MiB",
    });
  }
  const handshakes = ratios("handshakes", "connectionsPerSecond");
  if (handshakes) {
    add({
      id: "handshakes-rate",
      label: "Handshakes/s vs plain",
      ...handshakes,
      target: 0.95,
      kind: "min",
      unit: "x",
    });
    add({
      id: "handshakes-rate-native",
      label: "Handshakes/s vs Deno WebSocketStream",
      ...ratios("handshakes", "connectionsPerSecond", "native")!,
      target: 1,
      kind: "min",
      unit: "x",
    });
    add({
      id: "handshakes-unclean",
      label: "Unclean closes in all handshake runs",
      figures: figures("handshakes", (entry) => total(entry, "unclean"))!,
      target: 0,
      kind: "max",
      unit: "closes",
    });
  }
  // Server cases: only the server varies, "ours" being the Deno.serve path
  // and "ours-socket" the node:http one.
  for (
    const [id, key, name] of [
      ["server-echo-64-w64", "messagesPerSecond", "echo 64 B, window 64"],
      ["server-echo-16k-w64", "messagesPerSecond", "echo 16 KiB, window 64"],
      [
        "server-echo-16k-w64-ours",
        "messagesPerSecond",
        "echo 16 KiB, window 64",
      ],
      ["server-upload", "megabytesPerSecond", "upload into a sink"],
      ["server-upload-ours", "megabytesPerSecond", "upload into a sink"],
    ]
  ) {
    const rate = ratios(id!, key!);
    if (!rate) continue;
    const client = id!.endsWith("-ours") ? "our client" : "plain client";
    add({
      id: `${id}-rate`,
      label: `Server ${name}, ${client}: ${
        key === "megabytesPerSecond" ? "MB/s" : "messages/s"
      } vs plain server`,
      ...rate,
      target: 0.9,
      kind: "min",
      unit: "x",
    });
  }
  const plainIdle = variantOf(byId("server-idle"), "plain");
  if (plainIdle) {
    add({
      id: "idle-memory",
      label:
        "Server JS heap per idle connection (read loop, writer), ours minus plain",
      figures: figures(
        "server-idle",
        (entry) =>
          (median(entry, "heapPerConnection") -
            median(plainIdle, "heapPerConnection")) / 1024,
      )!,
      target: 4,
      kind: "max",
      unit: "KiB",
    });
  }
  return targets;
}
