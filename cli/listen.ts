/**
 * Server mode: accept WebSocket connections on a `node:http` server and pipe
 * them to stdout and from stdin, or echo them. Upgrades go through
 * `handleUpgrade`, so a client is paced through TCP by whatever reads its
 * messages: a slow stdout or, for an echo, the client's own reading.
 *
 * @module
 */

import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { handleUpgrade, type HandleUpgradeOptions } from "../node.ts";
import type { WebSocketOpenInfo, WebSocketStream } from "../mod.ts";
import { type Command, ExitStatus } from "./args.ts";
import { type CliIo, ioFailure, Reporter } from "./io.ts";
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
 * Serves until stopped by `io.signal`, or, without `--echo`, until the
 * piped client's connection fails or (without `--receive-only`) all of stdin
 * has been sent; returns the exit status.
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
  const input = command.echo || command.receiveOnly
    ? undefined
    : new SharedInput(inputMessages(io.stdin, command.binary, progress.sent));
  const upgradeOptions: HandleUpgradeOptions = {
    compression: command.compress,
  };
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
      if (busy) return;
      if (ended) stop();
      else reporter.detail("stdin has input waiting for the next client");
    }, (error) => {
      failure ??= ioFailure("read stdin", error);
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
    if (command.echo) {
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
    const end = await runSession(stream, open, input?.stream(), io.stdout, {
      ...command,
      failureCloseCode: 1011,
      received: progress.received,
      stop: stopServer.signal,
      keepUnsent: input && ((message) => input.giveBack(message)),
    });
    // What reached stdout is incomplete after a failure: stop, with it.
    if (end.localError !== undefined) failure ??= end.localError;
    else if (!end.clean) failure ??= `${peer}: ${describeEnd(end)}`;
    else reporter.detail(`${peer}: ${describeEnd(end)}`);
    if (end.inputEnded) stop();
  };

  const onUpgrade = (
    request: IncomingMessage,
    socket: Duplex,
    head: Uint8Array,
  ) => {
    const peer = `${request.socket.remoteAddress}:${request.socket.remotePort}`;
    const refuse = (reason: string) => {
      reporter.info(`${peer}: refused with 503: ${reason}`);
      answer503(socket, reason);
    };
    if (stopServer.signal.aborted) return refuse("Shutting down");
    if (busy) {
      const piped = command.receiveOnly ? "stdout" : "stdin and stdout";
      return refuse(
        `Busy: this server pipes one client at a time to ${piped}`,
      );
    }
    let stream;
    try {
      stream = handleUpgrade(request, socket, head, upgradeOptions);
    } catch (error) {
      // A throw here would end the process; it ends the connection instead.
      socket.destroy();
      reporter.info(`${peer}: ${describeError(error)}`);
      return;
    }
    if (stream === undefined) return;
    if (!command.echo) busy = true;
    const done: Promise<void> = serveConnection(stream, peer)
      .catch((error) => {
        if (command.echo) {
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
  };

  const finish = async () => {
    io.signal?.removeEventListener("abort", stop);
    progress.stop();
    // Each client's stream leaves stdin open for the next; none is left.
    await input?.cancel().catch(() => {});
  };
  // node:http would throw a missing permission where nobody can catch it.
  const net = hostAndPort(command.hostname, command.port);
  const permission = await Deno.permissions.request({ name: "net", host: net });
  if (permission.state !== "granted") {
    await finish();
    throw new Deno.errors.NotCapable(
      `Requires net access to "${net}", run again with the --allow-net flag`,
    );
  }
  const server = createServer((_request, response) => {
    response.writeHead(426, {
      "Content-Type": "text/plain; charset=utf-8",
      Upgrade: "websocket",
    }).end("This is a WebSocket server: connect with ws://\n");
  });
  server.on("upgrade", onUpgrade);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(command.port, command.hostname, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    await finish();
    reporter.error(
      `Cannot listen on ${net}: ${describeError(error)}`,
    );
    return ExitStatus.unclean;
  }
  const { address, port } = server.address() as AddressInfo;
  const listening = `listening on ws://${hostAndPort(address, port)}/`;
  if (command.port === 0) reporter.essential(listening);
  else reporter.info(listening);
  if (input !== undefined) {
    reporter.detail(
      `stdin goes to one client at a time; closing with ${
        formatClose(command.closeCode, command.closeReason)
      } when it ends`,
    );
    stopWhenInputEndsIdle();
  } else if (command.receiveOnly) {
    reporter.detail("clients go to stdout one at a time, until interrupted");
  }
  if (!stopServer.signal.aborted) {
    await new Promise((resolve) =>
      stopServer.signal.addEventListener("abort", resolve, { once: true })
    );
  }
  // Every session closes its client with the chosen code on stop.
  await Promise.all(connections);
  await new Promise((resolve) => {
    server.close(resolve);
    server.closeAllConnections();
  });
  // Stopped while stdin still had something for a client: say so.
  if (input?.holding) failure ??= "stopped before all of stdin was sent";
  await finish();
  if (failure !== undefined) {
    reporter.error(failure);
    return ExitStatus.unclean;
  }
  return ExitStatus.ok;
}

/** `host:port`, with an IPv6 host in brackets as URLs and Deno's permissions write it. */
function hostAndPort(hostname: string, port: number): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/** Answers an upgrade this server will not take with 503 and ends it. */
function answer503(socket: Duplex, reason: string): void {
  // The client may be gone already; there is nobody to tell.
  socket.on("error", () => {});
  socket.end(
    `HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${
      new TextEncoder().encode(`${reason}\n`).byteLength
    }\r\nConnection: close\r\n\r\n${reason}\n`,
  );
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
  const piped = open.readable.pipeThrough(countMessages(received))
    .pipeTo(open.writable).catch(() => {
      // How the connection ended is told by `closed`.
    });
  const end = await connectionEnd(stream, choice, stop);
  await piped;
  return end;
}
