/**
 * Running Deno scripts of this repository as child processes: the honest way
 * to test what a user sees (exit status, stdin, stdout, stderr).
 *
 * @module
 */

import { concat } from "./_bytes.ts";

/** The repository root, where `cli.ts` and `examples/` live. */
const ROOT: URL = new URL("../", import.meta.url);

const encoder = new TextEncoder();

/** What a finished process printed and how it ended. */
export interface Finished {
  code: number;
  signal: Deno.Signal | null;
  stdout: Uint8Array;
  /** `stdout` decoded as UTF-8. */
  text: string;
  stderr: string;
}

/** Options of {@linkcode DenoProcess}. */
export interface DenoProcessOptions {
  /**
   * Stdout is not read before this settles, so the child can be made to
   * block on a full pipe.
   */
  readStdoutAfter?: Promise<unknown>;
  /** More environment variables for the child (it inherits ours). */
  env?: Record<string, string>;
}

/** A stream read to its end in the background, watched for patterns. */
class Collected {
  bytes: Uint8Array[] = [];
  text = "";
  ended = false;
  readonly done: Promise<void>;
  #changed: () => void = () => {};

  constructor(stream: ReadableStream<Uint8Array>, start: Promise<unknown>) {
    const decoder = new TextDecoder();
    this.done = (async () => {
      await start.catch(() => {});
      for await (const chunk of stream) {
        this.bytes.push(chunk);
        this.text += decoder.decode(chunk, { stream: true });
        this.#changed();
      }
      this.ended = true;
      this.#changed();
    })();
  }

  async waitFor(pattern: RegExp, name: string): Promise<RegExpExecArray> {
    while (true) {
      const match = pattern.exec(this.text);
      if (match !== null) return match;
      if (this.ended) {
        throw new Error(
          `Process ended without printing ${pattern} on ${name}; it printed:\n${this.text}`,
        );
      }
      await new Promise<void>((resolve) => this.#changed = resolve);
    }
  }
}

/** A running `deno` child process with piped standard streams. */
export class DenoProcess implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stdout: Collected;
  readonly #stderr: Collected;
  #stdinClosed = false;

  /** Starts `deno <args>` in the repository root. */
  constructor(args: string[], options: DenoProcessOptions = {}) {
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      env: { NO_COLOR: "1", ...options.env },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    this.#stdout = new Collected(
      child.stdout,
      options.readStdoutAfter ?? Promise.resolve(),
    );
    this.#stderr = new Collected(child.stderr, Promise.resolve());
  }

  /** Resolves with the exit status, without closing stdin. */
  get status(): Promise<Deno.CommandStatus> {
    return this.#child.status;
  }

  /** Writes to the child's stdin. */
  async write(data: string | Uint8Array): Promise<void> {
    await this.#stdin.write(
      typeof data === "string" ? encoder.encode(data) : data,
    );
  }

  /** Closes the child's stdin: its end of input. */
  async closeStdin(): Promise<void> {
    if (this.#stdinClosed) return;
    this.#stdinClosed = true;
    await this.#stdin.close().catch(() => {
      // The child may have exited and closed the pipe already.
    });
  }

  /** Sends a signal, such as `SIGINT`. */
  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** Resolves once stderr matches `pattern`; rejects if it ends first. */
  waitForStderr(pattern: RegExp): Promise<RegExpExecArray> {
    return this.#stderr.waitFor(pattern, "stderr");
  }

  /** Resolves once stdout matches `pattern`; rejects if it ends first. */
  waitForStdout(pattern: RegExp): Promise<RegExpExecArray> {
    return this.#stdout.waitFor(pattern, "stdout");
  }

  /** Waits for the exit (closing stdin first) and returns all output. */
  async finished(): Promise<Finished> {
    await this.closeStdin();
    const [status] = await Promise.all([
      this.#child.status,
      this.#stdout.done,
      this.#stderr.done,
    ]);
    return {
      code: status.code,
      signal: status.signal,
      stdout: concat(this.#stdout.bytes),
      text: this.#stdout.text,
      stderr: this.#stderr.text,
    };
  }

  /** Kills the process if it still runs, and waits for it. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.finished();
  }
}

/** Runs `deno <args>` with `stdin` as its whole input, until it exits. */
export async function runDeno(
  args: string[],
  stdin: string | Uint8Array = "",
): Promise<Finished> {
  await using child = new DenoProcess(args);
  if (stdin.length > 0) await child.write(stdin);
  return await child.finished();
}
