/**
 * The tool's entry point, independent of the process it runs in.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };
import {
  asksForQuiet,
  ExitStatus,
  HELP,
  parseCommand,
  USAGE,
  UsageError,
} from "./args.ts";
import { runConnect } from "./connect.ts";
import type { CliIo } from "./io.ts";
import { describeError } from "../src/internal.ts";
import { runListen } from "./listen.ts";

export type { CliIo } from "./io.ts";
export { denoIo } from "./io.ts";
export { ExitStatus } from "./args.ts";

/**
 * Runs the tool with `args` (the arguments after the program name) on `io`
 * and resolves with the exit status; see the `--help` text for both. It never
 * throws: every failure becomes a line on stderr and a status.
 *
 * @example Running the tool in-process, as a client of an echo server
 * ```ts
 * import { main } from "@streams/websocket/cli";
 *
 * const decoder = new TextDecoder();
 * let received = "";
 * const status = await main(["ws://localhost:8080/"], {
 *   stdin: ReadableStream.from([new TextEncoder().encode("hello\n")]),
 *   stdout: new WritableStream({
 *     write(bytes) {
 *       received += decoder.decode(bytes);
 *     },
 *   }),
 *   stderr: (text) => console.error(text.trimEnd()),
 *   stderrIsTerminal: false,
 * });
 * console.log(status, received.trim()); // 0 "hello"
 * ```
 */
export async function main(
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  try {
    const command = parseCommand(args);
    switch (command.kind) {
      case "help":
        await print(io.stdout, HELP);
        return ExitStatus.ok;
      case "version":
        await print(io.stdout, `${denoJson.name} ${denoJson.version}\n`);
        return ExitStatus.ok;
      case "connect":
        return await runConnect(command, io);
      case "listen":
        return await runListen(command, io);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      // --quiet promises the reason alone.
      io.stderr(
        `error: ${error.message}\n${asksForQuiet(args) ? "" : `${USAGE}\n`}`,
      );
      return ExitStatus.usage;
    }
    io.stderr(`error: ${describeError(error)}\n`);
    return ExitStatus.unclean;
  }
}

async function print(
  stream: WritableStream<Uint8Array>,
  text: string,
): Promise<void> {
  const writer = stream.getWriter();
  try {
    await writer.write(new TextEncoder().encode(text));
  } finally {
    writer.releaseLock();
  }
}
