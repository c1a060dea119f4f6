/**
 * The command line: its options, the help text, and the parsing of
 * `Deno.args` into a {@linkcode Command}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { validateCloseInfo } from "../src/close_code.ts";
import { describeError } from "../src/describe_error.ts";
import { parseWebSocketUrl } from "../src/handshake_options.ts";

/** How a run of the tool ended, as its exit status. */
export const ExitStatus = {
  /** The connection closed cleanly, or the server was stopped. */
  ok: 0,
  /** The connection closed uncleanly, reading stdin / writing stdout failed, or a permission is missing. */
  unclean: 1,
  /** The command line was wrong. */
  usage: 2,
  /** The opening handshake failed: refused, not a WebSocket, no common subprotocol. */
  handshake: 3,
} as const;

/** The one-line usage shown with every argument error. */
export const USAGE =
  "usage: websocket [options] ws://host:port/path | websocket --listen PORT [--echo] [options]";

/** The full `--help` text. */
export const HELP = `${USAGE}

Connects to a WebSocket server (or, with --listen, serves) and pipes stdin to
it and its messages to stdout, with backpressure: a producer that outruns the
connection is paused instead of buffered.

Modes:
  ws://host:port/path      Connect. Each line of stdin is sent as a text
                           message; each message received is printed. The
                           end of stdin closes the connection (see --linger).
  --listen PORT            Serve on PORT (0 picks a free one; the address is
                           printed on stderr). One client at a time is piped
                           to stdout and fed from stdin; the end of stdin
                           closes it and stops the server.
  --listen PORT --echo     Serve as an echo server for any number of clients,
                           until interrupted (Ctrl-C closes them cleanly).

Options:
      --binary             Send stdin as binary messages, chunk by chunk, and
                           print every message raw, without newlines.
      --protocol NAME      Subprotocol to offer (client) or accept (server);
                           repeatable, most preferred first.
  -H, --header 'Name: v'   Extra handshake header (client only); repeatable.
      --socket             Client only: speak WebSocket over Deno.connect
                           ourselves, so that a slow stdout slows the server
                           down instead of ending with 4009.
      --close-code CODE    Close code to send when closing (default 1000).
      --close-reason TEXT  Close reason to send when closing (default none).
      --linger SEC         After stdin ends, keep printing what arrives until
                           SEC seconds pass without a message, then close;
                           0 closes at once (default 1). Messages that arrive
                           after our Close are dropped, as the standard says.
      --ping-interval SEC  Server only: ping every SEC seconds and drop a client
                           silent for twice that; 0 turns pings off
                           (default 15).
      --receive-limit N    Bytes of received messages held while stdout is
                           slow, e.g. 16777216 or 16M (default 16M). A peer
                           that gets further ahead is closed with 4009
                           (with --socket, only a single longer message).
      --hostname HOST      Address to listen on (default 127.0.0.1).
  -q, --quiet              Print nothing on stderr but the reason for a
                           failure.
  -v, --verbose            Print handshake details and each close code and
                           reason on stderr.
  -h, --help               Print this help.
  -V, --version            Print the version.

Line mode (the default): text messages are printed followed by a newline;
binary messages are printed raw. Progress (bytes, messages, rate) is shown on
stderr when it is a terminal.

Exit status:
  0  the connection closed cleanly (any close code), or the server stopped
  1  the connection closed uncleanly (e.g. 1006, or 4009 when stdout fell
     more than --receive-limit behind without --socket), stdin/stdout
     failed, or a permission is missing
  2  bad arguments
  3  the opening handshake failed (refused, HTTP error, no common subprotocol)
`;

/** Settings both modes share. */
export interface CommonOptions {
  binary: boolean;
  protocols: string[];
  closeCode: number;
  closeReason: string;
  /** How long to wait for messages after stdin ends, in ms. */
  lingerMs: number;
  receiveLimit: number | undefined;
  quiet: boolean;
  verbose: boolean;
}

/** What the command line asks for. */
export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | {
    kind: "connect";
    url: string;
    headers: Headers;
    /** Use the `"socket"` transport. */
    socket: boolean;
  } & CommonOptions
  | {
    kind: "listen";
    hostname: string;
    port: number;
    echo: boolean;
    idleTimeout: number | undefined;
  } & CommonOptions;

/** A command line that cannot be run; its message is shown above the usage. */
export class UsageError extends Error {
  /** @param message What was wrong with the arguments. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const OPTIONS = {
  binary: { type: "boolean" },
  protocol: { type: "string", multiple: true },
  header: { type: "string", short: "H", multiple: true },
  socket: { type: "boolean" },
  "close-code": { type: "string" },
  "close-reason": { type: "string" },
  linger: { type: "string" },
  "ping-interval": { type: "string" },
  "receive-limit": { type: "string" },
  listen: { type: "string" },
  hostname: { type: "string" },
  echo: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  verbose: { type: "boolean", short: "v" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

const DEFAULT_LINGER_MS = 1000;

/**
 * Parses the arguments after the program name.
 *
 * @throws {UsageError} For unknown options, missing or extra operands and
 *   values out of range.
 */
export function parseCommand(args: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // parseArgs spreads its messages over several lines.
    const message = describeError(error);
    throw new UsageError(message.replaceAll("\n", " "));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  if (values.quiet && values.verbose) {
    throw new UsageError("--quiet and --verbose cannot be used together");
  }
  const listening = values.listen !== undefined;
  const closeCode = values["close-code"] === undefined
    ? 1000
    : readInteger(values["close-code"], "--close-code", 0, 65535);
  const closeReason = values["close-reason"] ?? "";
  checkCloseInfo(closeCode, closeReason, listening);
  const common: CommonOptions = {
    binary: values.binary ?? false,
    protocols: values.protocol ?? [],
    closeCode,
    closeReason,
    lingerMs: values.linger === undefined
      ? DEFAULT_LINGER_MS
      : readNumber(values.linger, "--linger") * 1000,
    receiveLimit: values["receive-limit"] === undefined
      ? undefined
      : readSize(values["receive-limit"], "--receive-limit"),
    quiet: values.quiet ?? false,
    verbose: values.verbose ?? false,
  };
  if (listening) {
    if (positionals.length > 0) {
      throw new UsageError(
        `--listen takes no URL, received "${positionals[0]}"`,
      );
    }
    if (values.header !== undefined) {
      throw new UsageError("-H/--header is for connecting, not --listen");
    }
    if (values.socket !== undefined) {
      throw new UsageError("--socket is for connecting, not --listen");
    }
    const pingInterval = values["ping-interval"] === undefined
      ? undefined
      : readNumber(values["ping-interval"], "--ping-interval");
    return {
      kind: "listen",
      hostname: values.hostname ?? "127.0.0.1",
      port: readInteger(values.listen!, "--listen", 0, 65535),
      echo: values.echo ?? false,
      // Deno pings at half the idle timeout.
      idleTimeout: pingInterval === undefined ? undefined : pingInterval * 2,
      ...common,
    };
  }
  for (const option of ["echo", "hostname", "ping-interval"] as const) {
    if (values[option] !== undefined) {
      throw new UsageError(`--${option} works only with --listen`);
    }
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? "a ws:// or wss:// URL (or --listen PORT) is required"
        : `expected one URL, received ${positionals.length} arguments`,
    );
  }
  return {
    kind: "connect",
    url: readUrl(positionals[0]!),
    headers: readHeaders(values.header ?? []),
    socket: values.socket ?? false,
    ...common,
  };
}

function readUrl(text: string): string {
  try {
    return parseWebSocketUrl(text).href;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function readHeaders(lines: readonly string[]): Headers {
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim();
    if (colon < 0 || name === "") {
      throw new UsageError(`-H expects 'Name: value', received "${line}"`);
    }
    try {
      headers.append(name, line.slice(colon + 1).trim());
    } catch {
      throw new UsageError(`invalid header "${line}"`);
    }
  }
  return headers;
}

function checkCloseInfo(code: number, reason: string, server: boolean): void {
  try {
    validateCloseInfo(
      code,
      reason,
      server ? "server" : "client",
      "invalid --close-code/--close-reason",
    );
  } catch (error) {
    throw new UsageError(describeError(error));
  }
}

function readNumber(text: string, option: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0) {
    throw new UsageError(
      `${option} expects a number of at least 0, received "${text}"`,
    );
  }
  return value;
}

function readInteger(
  text: string,
  option: string,
  min: number,
  max: number,
): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new UsageError(
      `${option} expects an integer from ${min} to ${max}, received "${text}"`,
    );
  }
  return value;
}

const SIZE_SUFFIXES: Record<string, number> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

function readSize(text: string, option: string): number {
  const match = /^(\d+)([kmg]?)$/i.exec(text);
  if (match === null) {
    throw new UsageError(
      `${option} expects a byte count such as 1048576, 512K or 16M, received "${text}"`,
    );
  }
  return Number(match[1]) * SIZE_SUFFIXES[match[2]!.toLowerCase()]!;
}
