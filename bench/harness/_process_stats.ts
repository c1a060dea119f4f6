/**
 * What a benchmark process knows about itself: peak resident memory and CPU
 * time, read the cheapest way Linux and Deno offer.
 *
 * @module
 */

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

interface CpuUsage {
  user: number;
  system: number;
}

// Present at run time in Deno 2.9 but missing from its type declarations.
const cpuUsage = (Deno as unknown as { cpuUsage?: () => CpuUsage }).cpuUsage;
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system) the process has used, in microseconds: from
 * `Deno.cpuUsage()`, or else `/proc/self/stat` in clock ticks.
 */
export function cpuMicros(): number {
  if (cpuUsage !== undefined) {
    const { user, system } = cpuUsage();
    return user + system;
  }
  // Fields 14 and 15 (utime, stime) follow the parenthesised command name.
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks * 1e6 / CLOCK_TICKS_PER_SECOND;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
