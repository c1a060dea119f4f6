/**
 * Client mode: connect to a URL and pipe stdin and stdout through it.
 *
 * @module
 */

import { WebSocketStream, type WebSocketStreamOptions } from "../mod.ts";
import { type Command, ExitStatus } from "./args.ts";
import { type CliIo, Reporter } from "./io.ts";
import { describeError } from "../src/internal.ts";
import { ProgressLine } from "./progress.ts";
import { describeEnd, inputMessages, runSession } from "./session.ts";

/** Runs client mode until the connection ends; returns the exit status. */
export async function runConnect(
  command: Extract<Command, { kind: "connect" }>,
  io: CliIo,
): Promise<number> {
  const reporter = new Reporter(io.stderr, command);
  // Aborted by the user (io.signal) or by the connect timeout; once open,
  // only the user's signal counts, and it closes instead of aborting.
  const handshake = new AbortController();
  const interrupt = () => handshake.abort(io.signal?.reason);
  if (io.signal?.aborted) interrupt();
  io.signal?.addEventListener("abort", interrupt, { once: true });
  let timedOut = false;
  const timer = command.connectTimeoutMs > 0
    ? setTimeout(() => {
      timedOut = true;
      handshake.abort();
    }, command.connectTimeoutMs)
    : undefined;
  const options: WebSocketStreamOptions = {
    protocols: command.protocols,
    transport: command.transport,
    signal: handshake.signal,
    compression: command.compress,
  };
  if ([...command.headers.keys()].length > 0) options.headers = command.headers;
  if (command.receiveLimit !== undefined) {
    options.receiveLimit = command.receiveLimit;
  }
  let open;
  let stream: WebSocketStream | undefined;
  try {
    stream = new WebSocketStream(command.url, options);
    reporter.detail(`connecting to ${stream.url} (${command.transport})`);
    // What goes on the wire beside the handshake's own headers: the
    // arguments refuse any header the handshake sets itself.
    if (command.protocols.length > 0) {
      reporter.detail(
        `> Sec-WebSocket-Protocol: ${command.protocols.join(", ")}`,
      );
    }
    for (const [name, value] of command.headers) {
      reporter.detail(`> ${name}: ${value}`);
    }
    open = await stream.opened;
  } catch (error) {
    if (io.signal?.aborted) {
      reporter.error("interrupted");
      return ExitStatus.interrupted;
    }
    if (stream === undefined) throw error;
    // The library's message says it was the handshake; this line says so once.
    const why = timedOut
      ? `no answer within ${
        command.connectTimeoutMs / 1000
      } s (--connect-timeout)`
      : describeError(error).replace(/^WebSocket handshake failed: /, "");
    reporter.error(`Cannot connect to ${stream.url}: ${why}`);
    return ExitStatus.handshake;
  } finally {
    clearTimeout(timer);
    io.signal?.removeEventListener("abort", interrupt);
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
    command.receiveOnly
      ? undefined
      : inputMessages(io.stdin, command.binary, progress.sent),
    io.stdout,
    {
      ...command,
      failureCloseCode: command.closeCode,
      received: progress.received,
      stop: io.signal,
    },
  );
  progress.stop();
  if (end.localError !== undefined) reporter.error(end.localError);
  if (!end.clean) {
    reporter.error(describeEnd(end));
    return ExitStatus.unclean;
  }
  // A server that ends the connection with a code of its own is news:
  // perhaps it refused what it was sent.
  const news = end.peerClosed && end.closeCode !== 1000 &&
    end.closeCode !== 1005;
  if (news) reporter.info(describeEnd(end));
  else reporter.detail(describeEnd(end));
  return end.localError === undefined ? ExitStatus.ok : ExitStatus.unclean;
}
