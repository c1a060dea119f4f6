/**
 * Figures the load and soak runs read from their own processes and their
 * server's: memory, peak RSS, open file descriptors, the open-files limit.
 *
 * @module
 */

import { startChildServer } from "./_child_server.ts";

/** A process's memory and descriptor figures, in bytes and counts. */
export interface ProcessFigures {
  rss: number;
  heapUsed: number;
  external: number;
}

/** This process's figures. */
export function processFigures(): ProcessFigures {
  const { rss, heapUsed, external } = Deno.memoryUsage();
  return { rss, heapUsed, external };
}

/**
 * How many file descriptors process `pid` has open: the measure of leaked
 * sockets now that Deno 2 has no `Deno.resources()`. Counted by the shell,
 * because Deno wants all permissions to read `/proc/<pid>/fd`.
 */
export async function openFds(pid: number = Deno.pid): Promise<number> {
  const { stdout } = await new Deno.Command("sh", {
    args: ["-c", `ls /proc/${pid}/fd | wc -l`],
    stdout: "piped",
  }).output();
  return Number(new TextDecoder().decode(stdout).trim());
}

/**
 * The peak resident set size of process `pid` in bytes (`VmHWM`), read by the
 * shell for the same reason as {@linkcode openFds}.
 */
export async function peakRssOf(pid: number = Deno.pid): Promise<number> {
  const { stdout } = await new Deno.Command("sh", {
    args: ["-c", `grep VmHWM /proc/${pid}/status`],
    stdout: "piped",
  }).output();
  const kib = /(\d+)\s*kB/.exec(new TextDecoder().decode(stdout))?.[1];
  return Number(kib) * 1024;
}

/**
 * The soft and hard limits on open files, from the shell's `ulimit` (Deno
 * needs all permissions to read `/proc/self/limits`).
 */
export async function openFilesLimit(): Promise<
  { soft: number; hard: number }
> {
  const { stdout } = await new Deno.Command("sh", {
    args: ["-c", "ulimit -Sn; ulimit -Hn"],
    stdout: "piped",
  }).output();
  const [soft, hard] = new TextDecoder().decode(stdout).trim().split("\n");
  const read = (value: string | undefined) =>
    value === undefined || value === "unlimited" ? Infinity : Number(value);
  return { soft: read(soft), hard: read(hard) };
}

/**
 * Makes sure this process may open `needed` files. Deno cannot call
 * `setrlimit`, so when the soft limit is too low but the hard one allows it,
 * the script runs itself again under `sh -c "ulimit -n"`, and returns the
 * child's exit code; `undefined` means carry on in this process.
 */
export async function ensureOpenFiles(
  needed: number,
): Promise<number | undefined> {
  const { soft, hard } = await openFilesLimit();
  if (soft >= needed) return undefined;
  if (hard < needed || Deno.env.get("LOAD_RAISED_LIMIT") === "1") {
    console.error(
      `Open-files limit too low: soft ${soft}, hard ${hard}, need ${needed}. Raise it with "ulimit -n ${needed}".`,
    );
    return 1;
  }
  console.error(`Raising the open-files limit from ${soft} to ${needed}`);
  const { code } = await new Deno.Command("sh", {
    args: [
      "-c",
      `ulimit -n ${needed} && exec "$@"`,
      "sh",
      Deno.execPath(),
      "run",
      "--allow-net",
      "--allow-run",
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      new URL(Deno.mainModule).pathname,
      ...Deno.args,
    ],
    env: { LOAD_RAISED_LIMIT: "1" },
  }).spawn().status;
  return code;
}

/** A server process started from `_load_server.ts`. */
export interface LoadServer {
  url: string;
  pid: number;
  /** The server's figures after a garbage collection. */
  stats(): Promise<ServerStats>;
  stop(): Promise<void>;
}

/** What the server's `/stats` answers. */
export interface ServerStats extends ProcessFigures {
  /** Open file descriptors, counted from outside the server. */
  fds: number;
  /** Peak RSS, read from outside the server: {@linkcode peakRssOf}. */
  peakRss: number;
  open: number;
  errors: number;
  soak: { sent: number; received: number; errors: number };
}

/** Starts `_load_server.ts` with `args` and waits for its port. */
export async function startLoadServer(args: string[]): Promise<LoadServer> {
  const server = await startChildServer(
    new URL("./_load_server.ts", import.meta.url),
    args,
  );
  return {
    url: server.url,
    pid: server.pid,
    stats: async () => {
      const response = await fetch(`http://127.0.0.1:${server.port}/stats`);
      const figures = await response.json();
      return {
        ...figures,
        fds: await openFds(server.pid),
        peakRss: await peakRssOf(server.pid),
      } as ServerStats;
    },
    stop: server.stop,
  };
}

/** Bytes as MiB with one decimal, for the tables. */
export function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

/** Prints `rows` as an aligned two-column table under `title`. */
export function printTable(title: string, rows: [string, string][]): void {
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`\n${title}`);
  console.log("-".repeat(title.length));
  for (const [name, value] of rows) {
    console.log(`${name.padEnd(width)}  ${value}`);
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
