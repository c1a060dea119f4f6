/**
 * The server's side of the opening handshake, for both server paths
 * (`upgradeWebSocketStream` in `Deno.serve`, `handleUpgrade` for `node:http`):
 * the server options, the checks of the request with the refusal it gets,
 * the subprotocol selection, and the stream started once upgraded.
 *
 * @module
 */

import { AbortFanOut } from "./abort_fan_out.ts";
import { isProtocolToken } from "./handshake_options.ts";
import { describeValue } from "./describe_error.ts";
import {
  MAX_TIMER_DELAY,
  readAmount,
  readOptionsObject,
  readStreamOptions,
  type StreamSettings,
} from "./options.ts";
import { StreamCore } from "./stream_core.ts";
import type { Message } from "./message.ts";
import { type Deadline, startDeadline } from "./shared_deadlines.ts";
import type { Transport, TransportEvents } from "./transport.ts";
import type {
  ProtocolSelection,
  UpgradeWebSocketStreamOptions,
} from "./upgrade_websocket_stream.ts";
import { adopt, type WebSocketStream } from "./websocket_stream.ts";

/** The parts of an upgrade request the checks look at. */
export interface UpgradeRequest {
  method: string;
  headers: Headers;
}

/** An HTTP answer refusing an upgrade. */
export interface Refusal {
  status: number;
  statusText: string;
  body: string;
  headers: Record<string, string>;
}

/** The server options, validated and with their defaults. */
export interface ServerSettings {
  stream: Readonly<StreamSettings>;
  /** Seconds; `0` turns keepalive off. */
  idleTimeout: number;
  signal: AbortSignal | undefined;
  origins: UpgradeWebSocketStreamOptions["origins"];
  protocol: ProtocolSelection | undefined;
}

/** Deno's own default for `idleTimeout`, in seconds. */
const DEFAULT_IDLE_TIMEOUT = 30;
/**
 * The longest `idleTimeout`, in seconds: both server paths ping on a timer
 * of half of it, and a longer timer fires at once, so every connection
 * would be pinged and dropped within milliseconds.
 */
const MAX_IDLE_TIMEOUT = (MAX_TIMER_DELAY * 2) / 1000;

/** Checks the options both server paths take; `what` starts the errors. */
export function readServerOptions(
  options: UpgradeWebSocketStreamOptions,
  what: string,
): ServerSettings {
  const given = readOptionsObject(options, what);
  const stream = readStreamOptions(given, "server", what);
  const { signal, origins, protocol } = given;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `${what}: options.signal must be an AbortSignal, received ${
        describeValue(signal)
      }`,
    );
  }
  if (
    origins !== undefined && typeof origins !== "function" &&
    !Array.isArray(origins)
  ) {
    throw new TypeError(
      `${what}: options.origins must be an array of origins or a function, received ${
        describeValue(origins)
      }`,
    );
  }
  if (Array.isArray(origins)) origins.forEach(validateOrigin, what);
  if (
    protocol !== undefined && typeof protocol !== "string" &&
    typeof protocol !== "function" && !Array.isArray(protocol)
  ) {
    throw new TypeError(
      `${what}: options.protocol must be a string, an array of strings or a function, received ${
        describeValue(protocol)
      }`,
    );
  }
  if (typeof protocol === "string") validateProtocolName(what, protocol, "");
  else if (Array.isArray(protocol)) {
    protocol.forEach((name, index) =>
      validateProtocolName(what, name, `[${index}]`)
    );
  }
  const idleTimeout = readAmount(
    given.idleTimeout,
    DEFAULT_IDLE_TIMEOUT,
    "idleTimeout",
    what,
    MAX_IDLE_TIMEOUT,
  );
  return { stream, idleTimeout, signal, origins, protocol };
}

/**
 * Refuses a subprotocol candidate no client can offer (such as "a, b" for
 * two), which would never be selected.
 */
function validateProtocolName(what: string, name: unknown, at: string): void {
  if (typeof name === "string" && isProtocolToken(name)) return;
  throw new TypeError(
    `${what}: options.protocol${at} must be a subprotocol name (a token, several go in an array), received ${
      describeValue(name)
    }`,
  );
}

/**
 * Refuses an `origins` entry that no browser sends, which would refuse its
 * site without a word: browsers send an origin serialised (lower case, no
 * default port, no path), or `null` from an opaque origin. Called with the
 * error's start as `this`.
 */
function validateOrigin(this: string, entry: unknown, index: number): void {
  if (entry === "null") return;
  let origin: string | undefined;
  try {
    origin = typeof entry === "string" ? new URL(entry).origin : undefined;
  } catch {
    origin = undefined;
  }
  if (origin === entry) return;
  const hint = origin === undefined || origin === "null"
    ? ""
    : ` (its origin is ${JSON.stringify(origin)})`;
  throw new TypeError(
    `${this}: options.origins[${index}] must be an origin such as "https://example.com", received ${
      describeValue(entry)
    }${hint}`,
  );
}

/**
 * The refusal for a request that must not be upgraded, or `undefined` to
 * upgrade it: 426 for no WebSocket upgrade at all, 400 for a malformed
 * handshake, 426 naming 13 for another version, 403 for a refused origin.
 */
export function refuseUpgrade(
  { method, headers }: UpgradeRequest,
  origins: UpgradeWebSocketStreamOptions["origins"],
  what: string,
): Refusal | undefined {
  if (!hasToken(headers.get("upgrade"), "websocket")) {
    return {
      status: 426,
      statusText: "Upgrade Required",
      body: "Expected a WebSocket upgrade request\n",
      headers: { "upgrade": "websocket", "connection": "Upgrade" },
    };
  }
  if (
    method !== "GET" ||
    !hasToken(headers.get("connection"), "upgrade") ||
    !isHandshakeKey(headers.get("sec-websocket-key"))
  ) {
    return {
      status: 400,
      statusText: "Bad Request",
      body:
        "Malformed WebSocket upgrade request: it needs GET, Connection: Upgrade and a Sec-WebSocket-Key of 16 bytes in base64\n",
      headers: {},
    };
  }
  if (headers.get("sec-websocket-version") !== "13") {
    return {
      status: 426,
      statusText: "Upgrade Required",
      body: "Unsupported WebSocket version: 13 is required\n",
      headers: { "sec-websocket-version": "13" },
    };
  }
  if (!isOriginAllowed(headers.get("origin"), origins, what)) {
    return {
      status: 403,
      statusText: "Forbidden",
      body: "Origin not allowed\n",
      headers: {},
    };
  }
  return undefined;
}

/** Whether `key` is base64 of 16 bytes (RFC 6455, section 4.1). */
function isHandshakeKey(key: string | null): boolean {
  return key !== null && /^[A-Za-z0-9+/]{22}==$/.test(key.trim());
}

/** Whether a comma-separated header holds `token`, case-insensitively. */
function hasToken(header: string | null, token: string): boolean {
  return (header ?? "").split(",").some((value) =>
    value.trim().toLowerCase() === token
  );
}

/**
 * Whether `origin` may connect. A function's answer must be a boolean: a
 * Promise from an async check would be truthy, and let every origin in.
 */
function isOriginAllowed(
  origin: string | null,
  allowed: UpgradeWebSocketStreamOptions["origins"],
  what: string,
): boolean {
  if (allowed === undefined) return true;
  if (typeof allowed !== "function") {
    return origin === null || allowed.includes(origin);
  }
  const answer: unknown = allowed(origin);
  if (typeof answer === "boolean") return answer;
  throw new TypeError(
    `${what}: the origins function must return a boolean, received ${
      describeValue(answer)
    }${answer instanceof Promise ? " (it cannot be async)" : ""}`,
  );
}

/**
 * The subprotocol to select from the request's `Sec-WebSocket-Protocol`
 * header, or `undefined` for none. A selector that returns a subprotocol the
 * client did not offer is a TypeError.
 */
export function selectProtocol(
  header: string | null,
  selection: ProtocolSelection | undefined,
  what: string,
): string | undefined {
  if (selection === undefined) return undefined;
  const offered = parseProtocolHeader(header);
  if (typeof selection === "function") {
    const chosen: unknown = selection(offered);
    if (chosen === undefined) return undefined;
    if (typeof chosen !== "string") {
      // The answer must go out with the 101, which cannot wait.
      const hint = chosen instanceof Promise
        ? " (a selector cannot be async)"
        : "";
      throw new TypeError(
        `${what}: the protocol selector must return a string or undefined, received ${
          describeValue(chosen)
        }${hint}`,
      );
    }
    if (!offered.includes(chosen)) {
      throw new TypeError(
        `${what}: the protocol selector returned "${chosen}", which the client did not offer`,
      );
    }
    return chosen;
  }
  const candidates = typeof selection === "string" ? [selection] : selection;
  return candidates.find((candidate) => offered.includes(candidate));
}

/** Splits a `Sec-WebSocket-Protocol` header, with or without spaces. */
function parseProtocolHeader(header: string | null): string[] {
  if (header === null) return [];
  return header.split(",").map((token) => token.trim()).filter(isProtocolToken);
}

/** The reason sent with 1001 when the server shuts down. */
const SHUTDOWN_REASON = "Server shutting down";

/**
 * Starts the stream of an upgraded connection at `url`: with a `signal`, it
 * closes with 1001 when the server shuts down.
 */
export function startServerStream(
  transport: Transport,
  settings: ServerSettings,
  url: string,
): WebSocketStream {
  const { signal } = settings;
  if (signal === undefined) {
    const core = new StreamCore(transport, settings.stream);
    core.startTransport();
    return adopt(url, core);
  }
  const shutdown = new ShutdownTransport(
    transport,
    signal,
    settings.stream.closeTimeout,
  );
  const core = new StreamCore(shutdown, settings.stream);
  core.startTransport();
  closeOnShutdown(core, signal, shutdown);
  return adopt(url, core);
}

/** The streams each server's signal closes, by their transports. */
const shutdowns = new AbortFanOut<StreamCore, ShutdownTransport>(shutDown);

function closeOnShutdown(
  core: StreamCore,
  signal: AbortSignal,
  shutdown: ShutdownTransport,
): void {
  if (signal.aborted) {
    shutDown(shutdown, core);
    return;
  }
  const forget = shutdowns.add(signal, core, shutdown);
  core.closed.then(forget, forget);
}

/** Closes a stream as its server shuts down; takes a map's value and key. */
function shutDown(shutdown: ShutdownTransport, core: StreamCore): void {
  core.startClosing(1001, SHUTDOWN_REASON);
  shutdown.boundHandshake();
}

/**
 * A server transport whose shutdown is reported as such. Deno reports 1005
 * for every socket its shutdown tears down, even after our 1001 went out and
 * was answered: the 1001 the peer was sent is reported instead. And a
 * handshake that an abort of `Deno.serve` caught midway never completes nor
 * fails (Deno drops it without a word, and its client waits too): it is
 * given `closeTimeout`, then failed.
 */
class ShutdownTransport implements Transport {
  readonly #transport: Transport;
  readonly #signal: AbortSignal;
  readonly #closeTimeout: number;
  #events: TransportEvents | undefined;
  /** The state of the handshake, as far as the core was told. */
  #handshake: "pending" | "done" | "given up" = "pending";
  #deadline: Deadline | undefined;

  constructor(transport: Transport, signal: AbortSignal, closeTimeout: number) {
    this.#transport = transport;
    this.#signal = signal;
    this.#closeTimeout = closeTimeout;
  }

  get pausable(): boolean {
    return this.#transport.pausable;
  }

  resume(): void {
    this.#transport.resume?.();
  }

  start(events: TransportEvents): void {
    this.#events = events;
    this.#transport.start(this);
  }

  /** Fails the handshake after `closeTimeout` unless it completes first. */
  boundHandshake(): void {
    if (this.#handshake !== "pending" || this.#deadline !== undefined) return;
    this.#deadline = startDeadline(this.#closeTimeout, () => {
      if (this.#handshake !== "pending") return;
      this.#handshake = "given up";
      this.#transport.terminate();
      this.#events!.onClose(
        null,
        "",
        `the server shut down before the connection opened (within ${this.#closeTimeout} ms)`,
        false,
      );
    });
  }

  onOpen(protocol: string, extensions: string): void {
    if (this.#handshake === "given up") {
      this.#transport.terminate();
      return;
    }
    this.#end();
    this.#events!.onOpen(protocol, extensions);
  }

  onMessage(message: Message): boolean {
    return this.#events!.onMessage(message);
  }

  onOverflow(): void {
    this.#events!.onOverflow();
  }

  onClose(
    closeCode: number | null,
    reason: string,
    failure: string,
    wasClean: boolean,
  ): void {
    if (this.#handshake === "given up") return;
    this.#end();
    if (this.#signal.aborted && closeCode === 1005) {
      this.#events!.onClose(1001, SHUTDOWN_REASON, failure, wasClean);
    } else this.#events!.onClose(closeCode, reason, failure, wasClean);
  }

  send(message: Message): true | Promise<boolean> {
    return this.#transport.send(message);
  }

  close(closeCode: number | undefined, reason: string): void {
    this.#transport.close(closeCode, reason);
  }

  terminate(): void {
    this.#transport.terminate();
  }

  #end(): void {
    this.#handshake = "done";
    this.#deadline?.cancel();
  }
}
