/**
 * Server mode: accept WebSocket connections and pipe them to stdout and from
 * stdin, or echo them.
 *
 * @module
 */

import {
  upgradeWebSocketStream,
  type UpgradeWebSocketStreamOptions,
  type WebSocketOpenInfo,
  type WebSocketStream,
} from "../mod.ts";
import { type Command, ExitStatus } from "./args.ts";
import { type CliIo, Reporter } from "./io.ts";
import { describeError } from "../src/internal.ts";
import { type Counter, countMessages, ProgressLine } from "./progress.ts";
import { SharedInput } from "./shared_input.ts";
import {
  type CloseChoice,
  type ConnectionEnd,
  connectionEnd,
  describeEnd,
  formatClose,
  inputMessages,
  runSession,
} from "./session.ts";

type ListenCommand = Extract<Command, { kind: "listen" }>;

/**
 * Serves until stopped by `io.signal`, or, without `--echo`, until stdin
 * ends or the piped client's connection fails; returns the exit status.
 */
export async function runListen(
  command: ListenCommand,
  io: CliIo,
): Promise<number> {
  const reporter = new Reporter(io.stderr, command);
  const stopServer = new AbortController();
  const stop = () => stopServer.abort();
  if (io.signal?.aborted) stop();
  io.signal?.addEventListener("abort", stop, { once: true });
  const progress = new ProgressLine(
    io.stderr,
    io.stderrIsTerminal && !command.quiet,
  );
  const input = command.echo
    ? undefined
    : new SharedInput(inputMessages(io.stdin, command.binary, progress.sent));
  const upgradeOptions: UpgradeWebSocketStreamOptions = {};
  if (command.protocols.length > 0) upgradeOptions.protocol = command.protocols;
  if (command.idleTimeout !== undefined) {
    upgradeOptions.idleTimeout = command.idleTimeout;
  }
  if (command.receiveLimit !== undefined) {
    upgradeOptions.receiveLimit = command.receiveLimit;
  }
  const connections = new Set<Promise<void>>();
  let busy = false;
  let failure: string | undefined;
  // Stdin that ends while no client is connected has nobody to close: stop.
  const stopWhenInputEndsIdle = () => {
    input?.atEnd().then((ended) => {
      if (ended && !busy) stop();
    }, (error) => {
      failure ??= `stdin: ${describeError(error)}`;
      stop();
    });
  };

  const serveConnection = async (stream: WebSocketStream, peer: string) => {
    const open = await stream.opened;
    reporter.detail(
      `${peer}: connected to ${stream.url}, subprotocol ${
        JSON.stringify(open.protocol)
      }`,
    );
    if (input === undefined) {
      const end = await echo(
        stream,
        open,
        progress.received,
        command,
        stopServer.signal,
      );
      if (end.clean) reporter.detail(`${peer}: ${describeEnd(end)}`);
      else reporter.info(`${peer}: ${describeEnd(end)}`);
      return;
    }
    const end = await runSession(stream, open, input.stream(), io.stdout, {
      ...command,
      received: progress.received,
      stop: stopServer.signal,
    });
    busy = false;
    // What reached stdout is incomplete after a failure: stop, with it.
    if (end.localError !== undefined) failure ??= end.localError;
    else if (!end.clean) failure ??= `${peer}: ${describeEnd(end)}`;
    else reporter.detail(`${peer}: ${describeEnd(end)}`);
    if (end.inputEnded || failure !== undefined) stop();
    else stopWhenInputEndsIdle();
  };

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: command.hostname,
      port: command.port,
      onListen: ({ hostname, port }) => {
        const host = hostname.includes(":") ? `[${hostname}]` : hostname;
        reporter.info(`listening on ws://${host}:${port}/`);
      },
    }, (request, info) => {
      if (stopServer.signal.aborted) {
        return new Response("Shutting down\n", { status: 503 });
      }
      if (busy) {
        return new Response(
          "Busy: this server pipes one client at a time to stdin and stdout\n",
          { status: 503 },
        );
      }
      // Deno forgets the address once the request is upgraded.
      const peer = `${info.remoteAddr.hostname}:${info.remoteAddr.port}`;
      const { response, stream } = upgradeWebSocketStream(
        request,
        upgradeOptions,
      );
      if (stream === undefined) return response;
      if (input !== undefined) busy = true;
      const done: Promise<void> = serveConnection(stream, peer)
        .catch((error) => {
          if (input === undefined) {
            reporter.info(`${peer}: ${describeError(error)}`);
          } else failure ??= `${peer}: ${describeError(error)}`;
        })
        .finally(() => {
          connections.delete(done);
          busy = false;
          if (failure !== undefined) stop();
          else stopWhenInputEndsIdle();
        });
      connections.add(done);
      return response;
    });
  } catch (error) {
    io.signal?.removeEventListener("abort", stop);
    progress.stop();
    await input?.cancel().catch(() => {});
    reporter.error(
      `cannot listen on ${command.hostname}:${command.port}: ${
        describeError(error)
      }`,
    );
    return ExitStatus.unclean;
  }
  if (input !== undefined) {
    reporter.detail(
      `stdin goes to one client at a time; closing with ${
        formatClose(command.closeCode, command.closeReason)
      } when it ends`,
    );
    stopWhenInputEndsIdle();
  }
  if (!stopServer.signal.aborted) {
    await new Promise((resolve) =>
      stopServer.signal.addEventListener("abort", resolve, { once: true })
    );
  }
  // Our own closes first: shutting down would close every client with
  // 1001 "Server shutting down" instead of the chosen code.
  await Promise.all(connections);
  await server.shutdown();
  io.signal?.removeEventListener("abort", stop);
  progress.stop();
  // Each client's stream leaves stdin open for the next; none is left.
  await input?.cancel().catch(() => {});
  if (failure !== undefined) {
    reporter.error(failure);
    return ExitStatus.unclean;
  }
  return ExitStatus.ok;
}

/**
 * Sends every message back, with backpressure: a client that does not read
 * holds the echo, and so its own sending, back. Closes with the chosen code
 * when `stop` aborts.
 */
async function echo(
  stream: WebSocketStream,
  open: WebSocketOpenInfo,
  received: Counter,
  choice: CloseChoice,
  stop: AbortSignal,
): Promise<ConnectionEnd> {
  const close = () =>
    stream.close({ closeCode: choice.closeCode, reason: choice.closeReason });
  stop.addEventListener("abort", close, { once: true });
  const piped = open.readable.pipeThrough(countMessages(received))
    .pipeTo(open.writable).catch(() => {
      // How the connection ended is told by `closed`.
    });
  const end = await connectionEnd(stream);
  stop.removeEventListener("abort", close);
  await piped;
  return end;
}
