/**
 * Client mode: connect to a URL and pipe stdin and stdout through it.
 *
 * @module
 */

import { WebSocketStream, type WebSocketStreamOptions } from "../mod.ts";
import { type Command, ExitStatus, UsageError } from "./args.ts";
import { type CliIo, Reporter } from "./io.ts";
import { describeError } from "../src/describe_error.ts";
import { ProgressLine } from "./progress.ts";
import { describeEnd, inputMessages, runSession } from "./session.ts";

/** Runs client mode until the connection ends; returns the exit status. */
export async function runConnect(
  command: Extract<Command, { kind: "connect" }>,
  io: CliIo,
): Promise<number> {
  const reporter = new Reporter(io.stderr, command);
  const options: WebSocketStreamOptions = { protocols: command.protocols };
  if ([...command.headers.keys()].length > 0) options.headers = command.headers;
  if (command.receiveLimit !== undefined) {
    options.receiveLimit = command.receiveLimit;
  }
  if (io.signal !== undefined) options.signal = io.signal;
  if (command.socket) options.transport = "socket";
  let stream: WebSocketStream;
  try {
    stream = new WebSocketStream(command.url, options);
  } catch (error) {
    // A missing permission is not a mistake in the arguments: it ends the run
    // as it does in --listen mode.
    if (
      error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.PermissionDenied
    ) {
      throw error;
    }
    throw new UsageError(describeError(error));
  }
  reporter.detail(`connecting to ${stream.url}`);
  for (const protocol of command.protocols) {
    reporter.detail(`> Sec-WebSocket-Protocol: ${protocol}`);
  }
  for (const [name, value] of command.headers) {
    reporter.detail(`> ${name}: ${value}`);
  }
  let open;
  try {
    open = await stream.opened;
  } catch (error) {
    reporter.error(`handshake failed: ${describeError(error)}`);
    return ExitStatus.handshake;
  }
  reporter.detail(
    `connected: subprotocol ${JSON.stringify(open.protocol)}, extensions ${
      JSON.stringify(open.extensions)
    }`,
  );
  const progress = new ProgressLine(
    io.stderr,
    io.stderrIsTerminal && !command.quiet,
  );
  const end = await runSession(
    stream,
    open,
    inputMessages(io.stdin, command.binary, progress.sent),
    io.stdout,
    {
      ...command,
      received: progress.received,
      shareInput: false,
      stop: io.signal,
    },
  );
  progress.stop();
  if (end.localError !== undefined) reporter.error(end.localError);
  if (!end.clean) {
    reporter.error(describeEnd(end));
    return ExitStatus.unclean;
  }
  reporter.detail(describeEnd(end));
  return end.localError === undefined ? ExitStatus.ok : ExitStatus.unclean;
}
