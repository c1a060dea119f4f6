/**
 * What the tool reads and writes, as one object, so that it runs the same on
 * the process's standard streams and in a test.
 *
 * @module
 */

import { describeError } from "../src/internal.ts";

/**
 * The standard streams and the stop signal the tool runs with.
 *
 * @example The process's own streams, stopped after a minute
 * ```ts
 * import type { CliIo } from "@streams/websocket/cli";
 *
 * const io: CliIo = {
 *   stdin: Deno.stdin.readable,
 *   stdout: Deno.stdout.writable,
 *   stderr: (text) => console.error(text.trimEnd()),
 *   stderrIsTerminal: Deno.stderr.isTerminal(),
 *   signal: AbortSignal.timeout(60_000),
 * };
 * ```
 */
export interface CliIo {
  /** Read for messages to send. */
  stdin: ReadableStream<Uint8Array>;
  /** Received messages are written here; it is never closed. */
  stdout: WritableStream<Uint8Array>;
  /** Writes diagnostics. */
  stderr: (text: string) => void;
  /** Whether stderr is a terminal, which turns progress figures on. */
  stderrIsTerminal: boolean;
  /**
   * Asks the run to end: connections are closed with the close code and the
   * server stops.
   */
  signal?: AbortSignal;
}

const encoder = new TextEncoder();

/** Why reading stdin or writing stdout failed, as the tool reports it. */
export function ioFailure(
  what: "read stdin" | "write to stdout",
  error: unknown,
): string {
  return `Cannot ${what}: ${describeError(error)}`;
}

/** The process's standard streams, and `signal` to stop. */
export function denoIo(signal: AbortSignal): CliIo {
  return {
    stdin: Deno.stdin.readable,
    stdout: Deno.stdout.writable,
    stderr: (text) => {
      // Synchronous, so diagnostics keep their order and are out before exit.
      let bytes = encoder.encode(text);
      while (bytes.byteLength > 0) {
        bytes = bytes.subarray(Deno.stderr.writeSync(bytes));
      }
    },
    stderrIsTerminal: Deno.stderr.isTerminal(),
    signal,
  };
}

/** Diagnostics on stderr, filtered by `--quiet` and `--verbose`. */
export class Reporter {
  readonly #write: (text: string) => void;
  readonly #quiet: boolean;
  readonly #verbose: boolean;

  /**
   * @param write Writes to stderr.
   * @param level What to print: `quiet` only failures, `verbose` everything.
   */
  constructor(
    write: (text: string) => void,
    level: { quiet: boolean; verbose: boolean },
  ) {
    this.#write = write;
    this.#quiet = level.quiet;
    this.#verbose = level.verbose;
  }

  /** Why the run failed: always printed. */
  error(line: string): void {
    this.#write(`${line}\n`);
  }

  /** What cannot be learnt otherwise, such as a port the system picked. */
  essential(line: string): void {
    this.#write(`${line}\n`);
  }

  /** Status worth knowing, such as the address listened on. */
  info(line: string): void {
    if (!this.#quiet) this.#write(`${line}\n`);
  }

  /** Handshake details and close codes, with `--verbose`. */
  detail(line: string): void {
    if (this.#verbose) this.#write(`${line}\n`);
  }
}
