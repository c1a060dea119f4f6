/**
 * The command line: its options, the help text, and the parsing of
 * `Deno.args` into a {@linkcode Command}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  describeError,
  isProtocolToken,
  parseWebSocketUrl,
  refuseHandshakeHeaders,
  type Role,
  validateCloseInfo,
} from "../src/internal.ts";

/**
 * How a run of the tool ended, as its exit status.
 *
 * @example Telling bad arguments from a failed connection
 * ```ts
 * import { ExitStatus, main } from "@streams/websocket/cli";
 *
 * const status = await main(["--no-such-option"], {
 *   stdin: ReadableStream.from([]),
 *   stdout: new WritableStream(),
 *   stderr: () => {},
 *   stderrIsTerminal: false,
 * });
 * console.log(status === ExitStatus.usage); // true
 * ```
 */
export const ExitStatus = {
  /** The connection closed cleanly, or the server was stopped. */
  ok: 0,
  /** The connection closed uncleanly, reading stdin / writing stdout failed, or a permission is missing. */
  unclean: 1,
  /** The command line was wrong. */
  usage: 2,
  /** The opening handshake failed: refused, not a WebSocket, no common subprotocol, or no answer in time. */
  handshake: 3,
  /** Interrupted (Ctrl-C) before the connection opened. */
  interrupted: 130,
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
                           printed on stderr, even with -q). One client at a
                           time is piped to stdout and fed from stdin, others
                           meanwhile refused with 503; once all of stdin is
                           sent, its end closes that client and stops the
                           server (at once when stdin is empty). Input that
                           no client has taken waits for the next client.
  --listen PORT --echo     Serve as an echo server for any number of clients,
                           until interrupted (Ctrl-C closes them cleanly).

Options:
  -u, --receive-only       Leave stdin unread: print what arrives until the
                           peer closes, or until interrupted (Ctrl-C closes
                           with --close-code). With --listen, clients are
                           piped to stdout one at a time (others refused with
                           503) until interrupted.
      --binary             Send stdin as binary messages, chunk by chunk, and
                           print every message raw, without newlines.
      --protocol NAME      Subprotocol to offer (client) or accept (server);
                           repeatable, most preferred first.
  -H, --header 'Name: v'   Extra handshake header (client only); repeatable.
                           Host, Upgrade, Connection and Sec-WebSocket-* are
                           the handshake's own and cannot be set.
      --transport NAME     Client only: "socket" (the default) speaks
                           WebSocket over Deno.connect itself, so that a slow
                           stdout slows the server down through TCP;
                           "websocket" uses the runtime's WebSocket, which
                           cannot pause the server (see --receive-limit).
      --compress           Compress messages (permessage-deflate): a client
                           offers it, a server accepts it; both ends need it
                           (default off). Not with --transport websocket.
      --connect-timeout SEC
                           Client only: give up on an opening handshake that
                           has not completed after SEC seconds, with exit
                           status 3; 0 waits as long as TCP does (default 30).
      --close-code CODE    Close code to send when closing (default 1000).
      --close-reason TEXT  Close reason to send when closing (default none);
                           a failure of stdin or stdout sends its own.
      --linger SEC         After stdin ends, keep printing what arrives until
                           SEC seconds pass without a message, then close;
                           0 closes at once (default 1). Messages that arrive
                           after our Close are dropped, as the standard says.
                           Not with -u.
      --ping-interval SEC  Server only: every SEC seconds, ping a client that
                           has been silent since the last check and drop one
                           that did not answer the ping before (so after two
                           to three times SEC); 0 turns pings off (default 15).
      --receive-limit N    The longest message accepted, at least 1K, e.g.
                           16777216 or 16M (default 16M); a longer one closes
                           with 4009.
                           A slow stdout (or, for --echo, a client that reads
                           slowly) pauses the peer through TCP instead, except
                           with --transport websocket, where a peer that gets
                           more than N bytes ahead is closed with 4009.
      --hostname HOST      Address to listen on, such as 0.0.0.0, ::1 or
                           [::1] (default 127.0.0.1).
  -q, --quiet              Print nothing on stderr but the reason for a
                           failure (and the address --listen 0 picked).
  -v, --verbose            Print the headers added to the handshake, the
                           subprotocol, and each close code and reason on
                           stderr (without it, a client shows only a close
                           the server starts with a code other than 1000).
  -h, --help               Print this help.
  -V, --version            Print the version.

Line mode (the default): text messages are printed followed by a newline;
binary messages are printed raw. Progress (bytes, messages, rate) is shown on
stderr when it is a terminal.

Exit status:
  0  the connection closed cleanly (any close code), or the server stopped
  1  the connection closed uncleanly (e.g. 1006, or 4009 for a message
     longer than --receive-limit), stdin/stdout failed, or a permission is
     missing; with --listen (not --echo), the piped client's unclean close
     stops the server with this status, as does stopping it (Ctrl-C) before
     all of stdin was sent
  2  bad arguments
  3  the opening handshake failed (refused, HTTP error, no common
     subprotocol, or not done within --connect-timeout)
  130  interrupted (Ctrl-C) before the connection opened, or a second Ctrl-C
     that does not wait for the peer
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
  /** Offer (client) or accept (server) permessage-deflate. */
  compress: boolean;
  /** Leave stdin unread: only print what arrives. */
  receiveOnly: boolean;
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
    transport: "socket" | "websocket";
    /** How long the opening handshake may take, in ms; 0 for no limit. */
    connectTimeoutMs: number;
  } & CommonOptions
  | {
    kind: "listen";
    hostname: string;
    port: number;
    echo: boolean;
    idleTimeout: number | undefined;
  } & CommonOptions;

/**
 * A command line that cannot be run; its message ("Cannot parse <what the
 * user typed>: <why>") is shown above the usage.
 */
export class UsageError extends Error {
  /** @param message What was wrong with the arguments. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
}

const OPTIONS: Record<string, OptionSpec> = {
  binary: { type: "boolean" },
  protocol: { type: "string" },
  header: { type: "string", short: "H" },
  transport: { type: "string" },
  compress: { type: "boolean" },
  "connect-timeout": { type: "string" },
  "close-code": { type: "string" },
  "close-reason": { type: "string" },
  linger: { type: "string" },
  "ping-interval": { type: "string" },
  "receive-limit": { type: "string" },
  listen: { type: "string" },
  hostname: { type: "string" },
  echo: { type: "boolean" },
  "receive-only": { type: "boolean", short: "u" },
  quiet: { type: "boolean", short: "q" },
  verbose: { type: "boolean", short: "v" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
};

const DEFAULT_LINGER_MS = 1000;
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** The longest delay `setTimeout` honours, in whole seconds. */
const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** A value as the user typed it: a plain number as is, anything else JSON-quoted. */
function shown(text: string): string {
  return /^-?\d+(\.\d+)?$/.test(text) ? text : JSON.stringify(text);
}

type Tokens = NonNullable<ReturnType<typeof parseArgs>["tokens"]>;

/** The options given, each with the name it was typed as. */
class GivenOptions {
  readonly #values = new Map<string, { typed: string; values: string[] }>();

  constructor(tokens: Tokens) {
    for (const token of tokens) {
      if (token.kind !== "option") continue;
      const spec = Object.hasOwn(OPTIONS, token.name)
        ? OPTIONS[token.name]
        : undefined;
      if (spec === undefined) {
        throw new UsageError(
          `Cannot parse ${token.rawName}: no such option (see --help)`,
        );
      }
      if (spec.type === "string" && token.value === undefined) {
        throw new UsageError(`Cannot parse ${token.rawName}: it needs a value`);
      }
      if (spec.type === "boolean" && token.value !== undefined) {
        throw new UsageError(
          `Cannot parse ${token.rawName}: it takes no value, received ${
            shown(token.value)
          }`,
        );
      }
      const entry = this.#values.get(token.name) ??
        { typed: token.rawName, values: [] };
      entry.typed = token.rawName;
      entry.values.push(token.value ?? "");
      this.#values.set(token.name, entry);
    }
  }

  has(name: string): boolean {
    return this.#values.has(name);
  }

  /** How the user typed the option, for messages. */
  typed(name: string): string {
    return this.#values.get(name)?.typed ?? `--${name}`;
  }

  /** The last value given, as single-valued options take it. */
  last(name: string): string | undefined {
    return this.#values.get(name)?.values.at(-1);
  }

  all(name: string): string[] {
    return this.#values.get(name)?.values ?? [];
  }

  /** Refuses each of `names` that was given, with why. */
  refuse(names: readonly string[], why: string): void {
    for (const name of names) {
      if (this.has(name)) {
        throw new UsageError(`Cannot parse ${this.typed(name)}: ${why}`);
      }
    }
  }

  /** Parses the option's last value with `read`; `undefined` when absent. */
  read<T>(
    name: string,
    read: (text: string, typed: string) => T,
  ): T | undefined {
    const text = this.last(name);
    return text === undefined ? undefined : read(text, this.typed(name));
  }
}

/**
 * Parses the arguments after the program name.
 *
 * @throws {UsageError} For unknown options, missing or extra operands and
 *   values out of range.
 */
export function parseCommand(args: readonly string[]): Command {
  const { tokens, positionals } = tokenize(args);
  const given = new GivenOptions(tokens);
  if (given.has("help")) return { kind: "help" };
  if (given.has("version")) {
    const others = args.filter((arg) => arg !== "-V" && arg !== "--version");
    if (others.length > 0) {
      throw new UsageError(
        `Cannot parse ${
          given.typed("version")
        }: it takes no other arguments, received ${
          others.map(shown).join(" ")
        }`,
      );
    }
    return { kind: "version" };
  }
  if (given.has("quiet") && given.has("verbose")) {
    throw new UsageError(
      `Cannot parse ${given.typed("quiet")}: it cannot be used with ${
        given.typed("verbose")
      }`,
    );
  }
  if (given.has("receive-only")) {
    // --linger times the close after the end of stdin.
    given.refuse(
      ["linger"],
      `it cannot be used with ${
        given.typed("receive-only")
      }, which leaves stdin unread`,
    );
  }
  const listening = given.has("listen");
  const role: Role = listening ? "server" : "client";
  const protocols = given.all("protocol");
  readProtocols(protocols, given.typed("protocol"));
  const common: CommonOptions = {
    binary: given.has("binary"),
    protocols,
    closeCode: given.read(
      "close-code",
      (text, typed) => readCloseCode(text, typed, role),
    ) ?? 1000,
    closeReason: given.read(
      "close-reason",
      (text, typed) => readCloseReason(text, typed, role),
    ) ?? "",
    lingerMs: (given.read("linger", readSeconds) ?? DEFAULT_LINGER_MS / 1000) *
      1000,
    receiveLimit: given.read("receive-limit", readReceiveLimit),
    compress: given.has("compress"),
    receiveOnly: given.has("receive-only"),
    quiet: given.has("quiet"),
    verbose: given.has("verbose"),
  };
  if (listening) {
    if (positionals.length > 0) {
      throw new UsageError(
        `Cannot parse ${given.typed("listen")}: it takes no URL, received ${
          shown(positionals[0]!)
        }`,
      );
    }
    given.refuse(
      ["header", "transport", "connect-timeout"],
      "it is for connecting, not for --listen",
    );
    if (given.has("echo")) {
      given.refuse(
        ["receive-only"],
        `it cannot be used with ${
          given.typed("echo")
        }, which sends back what it receives`,
      );
    }
    const pingInterval = given.read("ping-interval", readSeconds);
    return {
      kind: "listen",
      hostname: given.read("hostname", readHostname) ?? "127.0.0.1",
      port: given.read("listen", readPort)!,
      echo: given.has("echo"),
      // Deno pings at half the idle timeout.
      idleTimeout: pingInterval === undefined ? undefined : pingInterval * 2,
      ...common,
    };
  }
  given.refuse(["echo", "hostname", "ping-interval"], "it needs --listen");
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? "Cannot parse the arguments: a ws:// or wss:// URL (or --listen PORT) is required"
        : `Cannot parse the arguments: expected one URL, received ${
          positionals.map(shown).join(" ")
        }`,
    );
  }
  return {
    kind: "connect",
    url: readUrl(positionals[0]!),
    headers: readHeaders(given.all("header"), given.typed("header")),
    transport: readTransport(given),
    connectTimeoutMs: (given.read("connect-timeout", readSeconds) ??
      DEFAULT_CONNECT_TIMEOUT_MS / 1000) * 1000,
    ...common,
  };
}

function readTransport(given: GivenOptions): "socket" | "websocket" {
  const transport = given.read("transport", (text, typed) => {
    if (text !== "socket" && text !== "websocket") {
      throw new UsageError(
        `Cannot parse ${typed}: the transport must be socket or websocket, received ${
          shown(text)
        }`,
      );
    }
    return text;
  }) ?? "socket";
  if (given.has("compress") && transport !== "socket") {
    throw new UsageError(
      `Cannot parse ${given.typed("compress")}: the runtime's WebSocket (${
        given.typed("transport")
      } ${transport}) cannot compress`,
    );
  }
  return transport;
}

function readUrl(text: string): string {
  try {
    return parseWebSocketUrl(text, undefined, "Cannot parse the URL").href;
  } catch (error) {
    throw new UsageError(describeError(error));
  }
}

function readProtocols(protocols: readonly string[], typed: string): void {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isProtocolToken(protocol)) {
      throw new UsageError(
        `Cannot parse ${typed}: a subprotocol must be a token without spaces or separators, received ${
          shown(protocol)
        }`,
      );
    }
    if (seen.has(protocol.toLowerCase())) {
      throw new UsageError(
        `Cannot parse ${typed}: each subprotocol may be given once, received ${
          shown(protocol)
        } twice`,
      );
    }
    seen.add(protocol.toLowerCase());
  }
}

function readHeaders(lines: readonly string[], typed: string): Headers {
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim();
    const header = new Headers();
    try {
      if (colon < 0 || name === "") throw new TypeError("no name");
      header.append(name, line.slice(colon + 1).trim());
    } catch {
      throw new UsageError(
        `Cannot parse ${typed}: a header must read 'Name: value' with a valid name, received ${
          shown(line)
        }`,
      );
    }
    try {
      refuseHandshakeHeaders(header, "");
    } catch {
      throw new UsageError(
        `Cannot parse ${typed}: the WebSocket handshake sets ${name} itself, received ${
          shown(line)
        }`,
      );
    }
    for (const [key, value] of header) headers.append(key, value);
  }
  return headers;
}

function readCloseCode(text: string, typed: string, role: Role): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(
      `Cannot parse ${typed}: a close code must be a whole number such as 1000 or 4000, received ${
        shown(text)
      }`,
    );
  }
  return validateClose(Number(text), "", role, typed).closeCode!;
}

function readCloseReason(text: string, typed: string, role: Role): string {
  return validateClose(undefined, text, role, typed).reason;
}

function validateClose(
  code: number | undefined,
  reason: string,
  role: Role,
  typed: string,
) {
  try {
    return validateCloseInfo(code, reason, role, `Cannot parse ${typed}`);
  } catch (error) {
    throw new UsageError(describeError(error));
  }
}

function readSeconds(text: string, typed: string): number {
  const value = Number(text);
  if (
    text.trim() === "" || !Number.isFinite(value) || value < 0 ||
    value > MAX_SECONDS
  ) {
    throw new UsageError(
      `Cannot parse ${typed}: it must be a number of seconds from 0 to ${MAX_SECONDS}, received ${
        shown(text)
      }`,
    );
  }
  return value;
}

/** The address to listen on, without the brackets an IPv6 address may be typed in. */
function readHostname(text: string, typed: string): string {
  const hostname = /^\[(.*)\]$/.exec(text)?.[1] ?? text;
  if (hostname === "" || /[\s\[\]\/]/.test(hostname)) {
    throw new UsageError(
      `Cannot parse ${typed}: it must be a host name or an IP address such as 127.0.0.1 or ::1, received ${
        shown(text)
      }`,
    );
  }
  return hostname;
}

function readPort(text: string, typed: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new UsageError(
      `Cannot parse ${typed}: a port must be a whole number from 0 to 65535, received ${
        shown(text)
      }`,
    );
  }
  return Number(text);
}

const SIZE_SUFFIXES: Record<string, number> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

/** The smallest --receive-limit: room for a short message and its frames. */
const MIN_RECEIVE_LIMIT = 1024;

function readReceiveLimit(text: string, typed: string): number {
  const match = /^(\d+)([kmg]?)$/i.exec(text);
  const size = match === null
    ? NaN
    : Number(match[1]) * SIZE_SUFFIXES[match[2]!.toLowerCase()]!;
  if (!(size >= MIN_RECEIVE_LIMIT)) {
    throw new UsageError(
      `Cannot parse ${typed}: it must be a byte count of at least ${MIN_RECEIVE_LIMIT} such as 1048576, 512K or 16M, received ${
        shown(text)
      }`,
    );
  }
  return size;
}

function tokenize(args: readonly string[]) {
  // Not strict: unknown options and missing values are reported by
  // parseCommand, in the same words as every other mistake.
  const { tokens, positionals } = parseArgs({
    args: [...args],
    options: OPTIONS,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  return { tokens: tokens!, positionals };
}

/** Whether the arguments ask for `--quiet`, even when they cannot be parsed. */
export function asksForQuiet(args: readonly string[]): boolean {
  return tokenize(args).tokens.some((token) =>
    token.kind === "option" && token.name === "quiet"
  );
}
