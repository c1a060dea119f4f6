/**
 * The targets, checked against the medians of one run.
 *
 * @module
 */

import type { ClientKind } from "./client.ts";

/** One client set-up a case measures. */
export interface Variant {
  id: string;
  label: string;
  client: ClientKind;
  /** Extra arguments for the client process. */
  args?: string[];
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
  variants: VariantResult[];
}

/** A target of the issue and how this run did against it. */
export interface TargetResult {
  id: string;
  label: string;
  /** Ours: a ratio to plain `WebSocket`, or an absolute figure in `unit`. */
  ours: number;
  /** Deno's native `WebSocketStream` by the same measure, where it applies. */
  native: number | undefined;
  target: number;
  /** `min`: at least `target`; `max`: at most `target`. */
  kind: "min" | "max";
  unit: "x" | "MiB" | "KiB" | "closes";
  met: boolean;
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
  const add = (
    target: Omit<TargetResult, "met">,
  ) =>
    targets.push({
      ...target,
      met: target.kind === "min"
        ? target.ours >= target.target
        : target.ours <= target.target,
    });
  /** Ours and native over plain, by median. */
  const ratios = (id: string, key: string) => {
    const result = byId(id);
    const plain = variantOf(result, "plain");
    if (plain === undefined) return undefined;
    const ratio = (variant: string) => {
      const entry = variantOf(result, variant);
      return entry && median(entry, key) / median(plain, key);
    };
    return { ours: ratio("ours")!, native: ratio("native") };
  };
  const absolute = (id: string, key: string, scale: number) => {
    const result = byId(id);
    const value = (variant: string) => {
      const entry = variantOf(result, variant);
      return entry && median(entry, key) / scale;
    };
    return result && { ours: value("ours")!, native: value("native") };
  };

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
      id: "upload-rss",
      label: "Upload client peak RSS",
      ...absolute("upload", "peakRss", MIB)!,
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
    add({
      id: `${id}-rate`,
      label: `Echo ${name}, window 64: messages/s vs plain`,
      ...rate,
      target: 0.95,
      kind: "min",
      unit: "x",
    });
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
      ...download,
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
      target: 0.9,
      kind: "min",
      unit: "x",
    });
    const result = byId("handshakes");
    const unclean = (variant: string) => {
      const entry = variantOf(result, variant);
      return entry && total(entry, "unclean");
    };
    add({
      id: "handshakes-unclean",
      label: "Unclean closes in all handshake runs",
      ours: unclean("ours")!,
      native: unclean("native"),
      target: 0,
      kind: "max",
      unit: "closes",
    });
  }
  const idle = byId("idle");
  const plainIdle = variantOf(idle, "plain");
  const oursIdle = variantOf(idle, "ours");
  if (plainIdle && oursIdle) {
    add({
      id: "idle-memory",
      label: "Server memory per idle connection, ours minus plain",
      ours: (median(oursIdle, "rssPerConnection") -
        median(plainIdle, "rssPerConnection")) / 1024,
      native: undefined,
      target: 2,
      kind: "max",
      unit: "KiB",
    });
  }
  return targets;
}
