/**
 * What a benchmark process knows about itself: peak resident memory and CPU
 * time, read the cheapest way Linux and Deno offer.
 *
 * @module
 */

const MIB = 1024 * 1024;

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

/** CPU time (user + system) the process has used, in microseconds. */
export function cpuMicros(): number {
  const { user, system } = Deno.cpuUsage();
  return user + system;
}

/** Bytes as MiB, for printing. */
export function toMiB(bytes: number): number {
  return bytes / MIB;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
