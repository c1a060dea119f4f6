/**
 * The benchmark's outputs: the tables printed and written to results.md, and
 * the chart in results.svg, drawn by hand as SVG text.
 *
 * @module
 */

import type { Machine } from "./machine.ts";
import {
  type CaseResult,
  COMPARED,
  type ComparedId,
  JUDGED,
  median,
  type Spread,
  type TargetResult,
  total,
  variantOf,
  type VariantResult,
} from "./targets.ts";

/** Everything one run measured. */
export interface Report {
  machine: Machine;
  command: string;
  date: string;
  /** Runs of the cases whose targets are about stability. */
  reps: number;
  /** Runs of every other case (older results ran all `reps` times). */
  otherReps?: number;
  quick: boolean;
  durationSeconds: number;
  targets: TargetResult[];
  cases: CaseResult[];
}

interface Metric {
  key: string;
  label: string;
  /** Divide by this for display (1024 ** 2 shows bytes as MiB). */
  scale: number;
  digits: number;
  /** Summed over the runs instead of their median. */
  sum?: boolean;
}

const MIB = 1024 * 1024;

/** How long a transfer to a slow reader took and how its runs ended. */
function transferEndings(completeLabel: string): Metric[] {
  const runs = (key: string, label: string): Metric => ({
    key,
    label,
    scale: 1,
    digits: 0,
    sum: true,
  });
  return [
    { key: "seconds", label: "seconds", scale: 1, digits: 1 },
    runs("overflow", "runs ended by receive-limit overflow"),
    runs("complete", completeLabel),
  ];
}

const METRICS: Record<string, Metric[]> = {
  echo: [
    { key: "messagesPerSecond", label: "messages/s", scale: 1, digits: 0 },
    {
      key: "cpuMicrosPerMessage",
      label: "client CPU µs/message",
      scale: 1,
      digits: 2,
    },
    {
      key: "serverCpuMicrosPerMessage",
      label: "server CPU µs/message",
      scale: 1,
      digits: 2,
    },
  ],
  upload: [
    { key: "megabytesPerSecond", label: "MB/s", scale: 1, digits: 0 },
    { key: "peakRss", label: "client peak RSS MiB", scale: MIB, digits: 0 },
    { key: "cpuMs", label: "client CPU ms", scale: 1, digits: 0 },
    { key: "serverCpuMs", label: "server CPU ms", scale: 1, digits: 0 },
    {
      key: "serverSystemMs",
      label: "server kernel CPU ms",
      scale: 1,
      digits: 0,
    },
  ],
  download: [
    { key: "peakRss", label: "client peak RSS MiB", scale: MIB, digits: 0 },
    { key: "bytesRead", label: "MiB read", scale: MIB, digits: 1 },
    ...transferEndings("runs that read everything"),
  ],
  receive: [
    {
      key: "serverPeakRss",
      label: "server peak RSS MiB",
      scale: MIB,
      digits: 0,
    },
    { key: "bytesSent", label: "MiB sent", scale: MIB, digits: 1 },
    ...transferEndings("runs that delivered everything"),
  ],
  handshakes: [
    {
      key: "connectionsPerSecond",
      label: "connections/s",
      scale: 1,
      digits: 0,
    },
    {
      key: "unclean",
      label: "unclean closes, all runs",
      scale: 1,
      digits: 0,
      sum: true,
    },
  ],
  idle: [
    {
      key: "rssPerConnection",
      label: "server RSS KiB/connection",
      scale: 1024,
      digits: 2,
    },
    {
      key: "heapPerConnection",
      label: "server JS heap KiB/connection",
      scale: 1024,
      digits: 2,
    },
    {
      key: "externalPerConnection",
      label: "server external KiB/connection",
      scale: 1024,
      digits: 2,
    },
  ],
};

function value(result: VariantResult | undefined, metric: Metric) {
  if (result === undefined) return undefined;
  return (metric.sum ? total(result, metric.key) : median(result, metric.key)) /
    metric.scale;
}

function format(number: number | undefined, digits: number): string {
  if (number === undefined || Number.isNaN(number)) return "–";
  return number.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b === 0) return "–";
  return `${format(a / b, 2)}x`;
}

/** A Markdown table with padded columns, readable as plain text too. */
function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => row[i]!.length))
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
  return [
    line(headers),
    // The separator row deno fmt writes, so a formatted file stays put.
    line(widths.map((width) => "-".repeat(width))),
    ...rows.map(line),
  ].join("\n");
}

/** A variant's label as the run named it, or its id if no case ran it. */
function labelOf(report: Report, id: string): string {
  for (const result of report.cases) {
    const entry = variantOf(result, id);
    if (entry !== undefined) return entry.variant.label;
  }
  return id;
}

function targetValue(
  target: TargetResult,
  figure: number | undefined,
  spread?: Spread,
) {
  if (figure === undefined) return "–";
  const digits = target.unit === "closes" ? 0 : target.unit === "MiB" ? 0 : 2;
  const unit = target.unit === "x" ? "x" : ` ${target.unit}`;
  const range = spread === undefined
    ? ""
    : ` (${format(spread.low, digits)}–${format(spread.high, digits)})`;
  return `${format(figure, digits)}${unit}${range}`;
}

function targetsTable(report: Report): string {
  return table(
    [
      "Target",
      ...COMPARED.map((id) => labelOf(report, id)),
      "Target",
      ...JUDGED.map((id) => `Met: ${labelOf(report, id)}`),
    ],
    report.targets.map((target) => [
      target.label,
      ...COMPARED.map((id) =>
        targetValue(target, target.figures[id], target.spread?.[id])
      ),
      `${target.kind === "min" ? "≥" : "≤"} ${
        targetValue(target, target.target)
      }`,
      ...JUDGED.map((id) => {
        const met = target.met[id];
        return met === undefined ? "–" : met ? "yes" : "**no**";
      }),
    ]),
  );
}

function figuresTable(report: Report): string {
  const rows: string[][] = [];
  for (const result of report.cases) {
    for (const metric of METRICS[result.workload] ?? []) {
      const p = value(variantOf(result, "plain"), metric);
      const figures = COMPARED.map((id) =>
        value(variantOf(result, id), metric)
      );
      rows.push([
        result.title,
        metric.label,
        String(result.reps ?? report.reps),
        ...[p, ...figures].map((figure) => format(figure, metric.digits)),
        ...figures.map((figure) => metric.sum ? "–" : ratio(figure, p)),
      ]);
    }
  }
  return table([
    "Workload",
    "Metric",
    "runs",
    ...["plain", ...COMPARED].map((id) => labelOf(report, id)),
    ...COMPARED.map((id) => `${id}/plain`),
  ], rows);
}

function uploadTable(report: Report): string | undefined {
  const upload = report.cases.find((result) => result.id === "upload");
  const plain = variantOf(upload, "plain");
  if (upload === undefined || plain === undefined) return undefined;
  const plainRate = median(plain, "megabytesPerSecond");
  return table(
    [
      "Upload variant",
      "MB/s",
      "vs plain",
      "peak RSS MiB",
      "client CPU ms",
      "timers",
      "loop turns",
      "ms blocked in write()",
    ],
    upload.variants.map((entry) => {
      const rate = median(entry, "megabytesPerSecond");
      return [
        entry.variant.label,
        format(rate, 0),
        `${format(rate / plainRate, 2)}x`,
        format(median(entry, "peakRss") / MIB, 0),
        format(median(entry, "cpuMs"), 0),
        format(median(entry, "timers"), 0),
        format(median(entry, "turns"), 0),
        format(median(entry, "writeWaitMs"), 0),
      ];
    }),
  );
}

/** How many runs each case had. */
function runsLine(report: Report): string {
  const other = report.otherReps ?? report.reps;
  if (other === report.reps) return `${report.reps} runs`;
  const full = report.cases.filter((result) =>
    (result.reps ?? report.reps) === report.reps
  ).map((result) => result.id).join(", ");
  return `${report.reps} runs for the cases whose targets are about stability (${full}), ${other} for the others`;
}

function machineLine(report: Report): string {
  const { machine } = report;
  return `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; Deno ${machine.deno} (V8 ${machine.v8}). Medians of ${
    runsLine(report)
  }, each in a fresh process; ${
    report.quick ? "quick sizes" : "full sizes"
  }; run took ${format(report.durationSeconds, 0)} s.`;
}

/** The tables, for the terminal. */
export function renderTable(report: Report): string {
  return [
    machineLine(report),
    "",
    targetsTable(report),
    "",
    figuresTable(report),
    "",
    uploadTable(report) ?? "",
  ].join("\n");
}

/** results.md: the tables with the machine and the command, for bench/README.md. */
export function renderMarkdown(report: Report): string {
  const upload = uploadTable(report);
  return [
    "<!-- Generated by `deno task bench`; do not edit. -->",
    "",
    `Command: \`${report.command}\`. ${machineLine(report)}`,
    "",
    `Targets (ratios compare medians from the same run; in brackets, the lowest and highest of the runs' own ratios, each run measuring every client back to back):`,
    "",
    targetsTable(report),
    "",
    "All figures:",
    "",
    figuresTable(report),
    ...(upload === undefined ? [] : [
      "",
      "Upload by send wake-up strategy, transport and `writeHighWaterMark`:",
      "",
      upload,
    ]),
    "",
  ].join("\n");
}

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(
    ">",
    "&gt;",
  );
}

/** How each compared variant's bar is drawn in a target's row. */
const BARS: Record<ComparedId, { tag: string; height: number }> = {
  ours: { tag: "ours", height: 10 },
  "ours-socket": { tag: "socket", height: 10 },
  native: { tag: "native", height: 6 },
};
const BAR_GAP = 3;

/**
 * results.svg: one row per target, each on its own scale, with a bar for
 * each of ours' variants (green where it meets the target, red where not),
 * one for Deno's native WebSocketStream, and the target line.
 */
export function renderSvg(report: Report): string {
  const width = 900;
  const rowHeight = 4 +
    COMPARED.reduce((sum, id) => sum + BARS[id].height + BAR_GAP, 0) + 6;
  const top = 84;
  const barX = 430;
  const barWidth = 360;
  const height = top + report.targets.length * rowHeight + 10;
  // Tags that are not the variant's own label, spelled out.
  const tags = COMPARED.filter((id) => BARS[id].tag !== labelOf(report, id))
    .map((id) => `${BARS[id].tag} = ${labelOf(report, id)}`).join("; ");
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">@streams/websocket against its targets (medians, one run)</text>`,
    `<text x="10" y="38" fill="#555">${
      escapeXml(
        `${report.machine.cpu}, ${report.machine.cores} cores; Deno ${report.machine.deno}; ${report.reps} runs each`,
      )
    }</text>`,
    `<rect x="10" y="48" width="12" height="10" fill="#2e7d32"/><text x="26" y="57">ours, target met</text>`,
    `<rect x="130" y="48" width="12" height="10" fill="#c62828"/><text x="146" y="57">ours, target missed</text>`,
    `<rect x="270" y="50" width="12" height="6" fill="#9e9e9e"/><text x="286" y="57">Deno WebSocketStream</text>`,
    `<line x1="440" y1="46" x2="440" y2="60" stroke="#000" stroke-dasharray="3,2"/><text x="446" y="57">target</text>`,
    `<text x="10" y="74" fill="#555" font-size="11">${
      escapeXml(
        `Bars: ${COMPARED.map((id) => BARS[id].tag).join(", ")}; ${tags}`,
      )
    }</text>`,
  ];
  report.targets.forEach((target, row) => {
    const y = top + row * rowHeight;
    const scale = Math.max(
          ...COMPARED.map((id) => target.figures[id] ?? 0),
          target.target,
          target.unit === "closes" ? 1 : 0,
        ) * 1.15 || 1;
    const x = (figure: number) =>
      barX + Math.max(0, Math.min(figure / scale, 1)) * barWidth;
    parts.push(`<text x="10" y="${y + 16}">${escapeXml(target.label)}</text>`);
    // Native is shown for reference only: it has no verdict, so it is grey.
    const verdicts: Partial<Record<ComparedId, boolean>> = target.met;
    let barY = y + 4;
    for (const id of COMPARED) {
      const { tag, height: barHeight } = BARS[id];
      const figure = target.figures[id];
      if (figure !== undefined) {
        const met = verdicts[id];
        const fill = met === undefined
          ? "#9e9e9e"
          : met
          ? "#2e7d32"
          : "#c62828";
        const textY = barY + barHeight / 2 + 3.5;
        parts.push(
          `<text x="${
            barX - 6
          }" y="${textY}" text-anchor="end" fill="#666" font-size="10">${tag}</text>`,
          `<rect x="${barX}" y="${barY}" width="${
            x(figure) - barX
          }" height="${barHeight}" fill="${fill}"/>`,
          `<text x="${x(figure) + 4}" y="${textY}" fill="${
            met === undefined ? "#666" : "#333"
          }" font-size="10">${escapeXml(targetValue(target, figure))}</text>`,
        );
      }
      barY += barHeight + BAR_GAP;
    }
    const tx = x(target.target);
    parts.push(
      `<line x1="${tx}" y1="${y}" x2="${tx}" y2="${
        barY + 1
      }" stroke="#000" stroke-dasharray="3,2"/>`,
      `<text x="${width - 10}" y="${y + 16}" text-anchor="end" fill="#333">${
        escapeXml(
          `${target.kind === "min" ? "≥" : "≤"} ${
            targetValue(target, target.target)
          }`,
        )
      }</text>`,
    );
  });
  parts.push("</svg>", "");
  return parts.join("\n");
}
