/**
 * What a benchmark process knows about itself: peak resident memory, CPU
 * time and page faults, read the cheapest way Linux and Deno offer.
 *
 * @module
 */

import process from "node:process";

/**
 * The process's peak resident set size in bytes: the kernel's high-water mark
 * (`VmHWM`), which catches a peak no sampler would. Falls back to the current
 * RSS where `/proc` is missing.
 */
export function peakRss(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    if (match !== null) return Number(match[1]) * 1024;
  } catch {
    // Not Linux: the current RSS is the best there is.
  }
  return Deno.memoryUsage().rss;
}

/** CPU time in microseconds, as `Deno.cpuUsage()` reports it. */
export interface CpuUsage {
  user: number;
  system: number;
}

// Present at run time in Deno 2.9 but missing from its type declarations.
const cpuUsage = (Deno as unknown as { cpuUsage?: () => CpuUsage }).cpuUsage;
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time the process has used, in microseconds, split into user and
 * system (kernel) time: from `Deno.cpuUsage()`, or else `/proc/self/stat` in
 * clock ticks.
 */
export function cpuTimes(): CpuUsage {
  if (cpuUsage !== undefined) return cpuUsage();
  const fields = procStatFields();
  const micros = (field: number) =>
    Number(fields[field]) * 1e6 / CLOCK_TICKS_PER_SECOND;
  return { user: micros(UTIME), system: micros(STIME) };
}

/** CPU time (user + system) the process has used, in microseconds. */
export function cpuMicros(): number {
  const { user, system } = cpuTimes();
  return user + system;
}

/**
 * The minor page faults the process has taken: each is a page the kernel
 * mapped (and zeroed, when fresh) on first touch. On a virtual machine their
 * cost swings with how the host backs the guest's memory, so they tell a run
 * slowed by that from one slowed by its own work.
 */
export function minorFaults(): number {
  return process.resourceUsage().minorPageFault;
}

// Fields of /proc/self/stat, counted from the state that follows the
// parenthesised command name: utime and stime (fields 14 and 15).
const UTIME = 11;
const STIME = 12;

function procStatFields(): string[] {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
