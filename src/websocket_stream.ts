/**
 * The {@linkcode WebSocketStream} class.
 *
 * @module
 */

import { AbortFanOut } from "./abort_fan_out.ts";
import { tagInterface } from "./interface_tag.ts";
import { readCloseInfo, validateCloseInfo } from "./close_code.ts";
import { LazyTransport } from "./lazy_transport.ts";
import {
  parseWebSocketUrl,
  refuseExtensions,
  serverStreamUrl,
  toProtocolList,
  validateProtocols,
} from "./handshake_options.ts";
import { describeError, describeValue } from "./describe_error.ts";
import {
  readDictionary,
  readStreamOptions,
  type StreamOptions,
  type StreamSettings,
} from "./options.ts";
import {
  StreamCore,
  type StreamCoreSettings,
  type WebSocketClosedInfo,
  type WebSocketOpenInfo,
} from "./stream_core.ts";
import { refuseHandshakeHeaders } from "./socket/client_handshake.ts";
import type { SocketTransportOptions } from "./socket/client_transport.ts";
import { requireNetAccess } from "./socket/net_access.ts";
import {
  type CompressionOptions,
  readCompressionOption,
} from "./socket/permessage_deflate_negotiation.ts";
import type { Transport } from "./transport.ts";
import type { WebSocketCloseInfo } from "./websocket_error.ts";
import { WebSocketTransport } from "./websocket_transport.ts";

/**
 * Options for {@linkcode WebSocketStream}'s constructor.
 *
 * @example Offering subprotocols, sending a token and bounding the handshake
 * ```ts
 * import { WebSocketStream } from "@streams/websocket";
 *
 * const wss = new WebSocketStream("wss://example.com/chat", {
 *   protocols: ["chat.v2", "chat.v1"],
 *   headers: { authorization: "Bearer secret" },
 *   signal: AbortSignal.timeout(5000),
 * });
 * ```
 */
export interface WebSocketStreamOptions extends StreamOptions {
  /**
   * Subprotocols to offer, most preferred first. The connection fails unless
   * the server selects one of them.
   *
   * @default {[]}
   */
  protocols?: string[];
  /**
   * Aborts the opening handshake; `opened` and `closed` then reject with
   * `signal.reason`. It has no effect once the connection is open; a signal
   * already aborted means no connection is attempted at all.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Extra headers for the opening handshake, such as `Authorization`. A Deno
   * extension that needs Deno 2.5 or later (any Deno with
   * `transport: "socket"`), a `TypeError` elsewhere; browsers cannot send
   * headers. With `transport: "socket"` the headers the handshake sets itself
   * (`Host`, `Upgrade`, `Connection`, `Sec-WebSocket-*`) are a `TypeError`;
   * the default transport, Deno's `WebSocket`, silently sends its own in
   * their place.
   *
   * @default {undefined} no extra headers
   */
  headers?: HeadersInit;
  /**
   * What carries the connection. `"websocket"` is the runtime's `WebSocket`,
   * which cannot pause reading: a reader that falls behind past
   * `receiveLimit` ends the connection with `overflowCloseCode`.
   * `"socket"` (Deno only) speaks the WebSocket protocol itself over
   * `Deno.connect` (and `Deno.startTls` for `wss:`), and reads at most 64 KiB
   * ahead of the reader, so a slow reader slows the peer down through TCP;
   * only a single message longer than `receiveLimit` overflows. It offers
   * compression (see `compression`) and does not go through HTTP proxies.
   *
   * Where the default is weaker: it cannot pace a slow reader through TCP;
   * it accepts a wrong `Sec-WebSocket-Accept` (Deno's `WebSocket` does not
   * check it), which `"socket"` refuses; and it silently drops the
   * handshake's own headers (`Host`, `Upgrade`, `Connection`,
   * `Sec-WebSocket-*`) from `headers`, which `"socket"` refuses with a
   * `TypeError`.
   *
   * @default {"websocket"}
   */
  transport?: "websocket" | "socket";
  /**
   * Compression with permessage-deflate (RFC 7692) for `transport:
   * "socket"`, offered by default as browsers do (on Deno 2.1 or later;
   * older ones offer nothing, lacking a way to `node:zlib`): messages travel
   * compressed (as `threshold` and `level` say) when the server agrees,
   * and `opened` reports the agreement in `extensions`. `false` offers no
   * compression; an object tunes the offer. A received message
   * counts its inflated size against `receiveLimit`, checked while it
   * inflates. The default transport cannot be told: browsers compress on
   * their own, Deno's `WebSocket` never does, and this option is only
   * checked (a wrong value throws all the same).
   *
   * @default {true} offered with `transport: "socket"`
   */
  compression?: boolean | CompressionOptions;
}

const CONSTRUCT = "Cannot construct WebSocketStream";

/** The handshakes each signal aborts: a stream is registered until open. */
const handshakeAborts = new AbortFanOut<StreamCore, AbortSignal>(
  (signal, core) => core.abortHandshake(signal.reason),
);

let adopting: { url: string; core: StreamCore } | undefined;

/**
 * Wraps a core made elsewhere (the server role) in a {@linkcode WebSocketStream}.
 * The request's URL becomes a `ws:` or `wss:` one only when `url` is read:
 * a server stream so keeps its request's URL, which the runtime holds anyway,
 * instead of a copy for each connection.
 */
export let adopt: (url: string, core: StreamCore) => WebSocketStream;

/**
 * A WebSocket connection as a pair of web streams, with promises for its
 * opening and closing: the standard `WebSocketStream` API, built on the
 * runtime's `WebSocket` by default, or on `Deno.connect` with
 * `transport: "socket"`.
 *
 * Writes resolve only while the socket has room (see `writeHighWaterMark`).
 * Received messages wait in a queue bounded by `receiveLimit`; a reader that
 * falls further behind gets a {@linkcode WebSocketError} after the messages
 * that arrived in time, and the peer gets `overflowCloseCode`. With
 * `transport: "socket"` a slow reader instead pauses the peer through TCP.
 *
 * @example Sending and receiving
 * ```ts
 * import { WebSocketStream } from "@streams/websocket";
 *
 * const wss = new WebSocketStream("wss://echo.example/");
 * const { readable, writable } = await wss.opened;
 * const writer = writable.getWriter();
 * await writer.write("hello");
 * for await (const message of readable) {
 *   console.log(message);
 *   break;
 * }
 * wss.close({ closeCode: 1000, reason: "done" });
 * const { closeCode, reason } = await wss.closed;
 * ```
 */
export class WebSocketStream {
  readonly #url: string;
  readonly #core: StreamCore;

  static {
    tagInterface(WebSocketStream, "WebSocketStream");
    adopt = (url, core) => {
      adopting = { url, core };
      try {
        return new WebSocketStream(url);
      } finally {
        adopting = undefined;
      }
    };
  }

  /**
   * Starts connecting to `url`. Bad arguments throw at once; anything that
   * goes wrong on the network rejects `opened` and `closed` instead.
   *
   * @param url A `ws:`, `wss:`, `http:` or `https:` URL without a fragment.
   * @param options Subprotocols, an abort signal, handshake headers and
   *   buffer limits.
   * @throws {TypeError} Without a URL, or when an option has the wrong type.
   * @throws {RangeError} When a size or timeout option is negative or too
   *   large.
   * @throws {DOMException} `SyntaxError` for an invalid URL or subprotocol,
   *   `InvalidAccessError` for an `overflowCloseCode` a client may not send.
   *   Without `--allow-net`, Deno's `NotCapable` error, as `new WebSocket()`
   *   throws it.
   */
  // `= undefined`, not `?`: an optional parameter with no default would
  // count in the constructor's `length`, which is 1 in the standard.
  constructor(
    url: string | URL,
    options: WebSocketStreamOptions | undefined = undefined,
  ) {
    if (adopting !== undefined) {
      this.#url = adopting.url;
      this.#core = adopting.core;
      return;
    }
    if (arguments.length === 0) {
      throw new TypeError(`${CONSTRUCT}: a URL is required`);
    }
    const input = `${url}`.toWellFormed();
    const given = readDictionary(options, CONSTRUCT);
    // WebIDL's order: each member read and converted before the next.
    const headers = readHeaders(given.headers);
    const protocols = toProtocolList(given.protocols);
    const { signal } = given;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError(
        `${CONSTRUCT}: options.signal must be an AbortSignal, received ${
          describeValue(signal)
        }`,
      );
    }
    const settings = readStreamOptions(given, "client", CONSTRUCT);
    const useSocket = readTransportChoice(given.transport);
    // Only the socket transport compresses: the default one just validates.
    const wanted = given.compression;
    const compression = useSocket || wanted !== undefined
      ? readCompressionOption(wanted, true, CONSTRUCT)
      : undefined;
    const parsed = parseUrlAgain(input, apiBaseUrl());
    validateProtocols(protocols);
    if (headers !== undefined) {
      if (useSocket) refuseHandshakeHeaders(headers, CONSTRUCT);
      else requireHeaderSupport();
    }
    this.#url = parsed.href;
    const transport = useSocket
      ? socketTransport({
        url: parsed,
        protocols,
        headers,
        highWaterMark: settings.writeHighWaterMark,
        messageLimit: settings.receiveLimit,
        compression,
      })
      : new WebSocketTransport(
        // With the signal already aborted no connection is attempted.
        signal?.aborted
          ? undefined
          : openWebSocket(this.#url, protocols, headers),
        settings.writeHighWaterMark,
      );
    this.#core = new StreamCore(
      transport,
      // The socket transport checks the extensions against what it offered.
      coreSettings(settings, protocols, useSocket),
    );
    if (signal?.aborted) {
      this.#core.abortHandshake(signal.reason);
      return;
    }
    this.#core.startTransport();
    if (signal !== undefined) {
      const forget = handshakeAborts.add(signal, this.#core, signal);
      this.#core.opened.then(forget, forget);
    }
  }

  /**
   * The URL this stream connects to, after `http:`/`https:` became
   * `ws:`/`wss:`.
   *
   * @example Reading the normalized URL
   * ```ts
   * import { WebSocketStream } from "@streams/websocket";
   *
   * const wss = new WebSocketStream("http://localhost:8080");
   * console.log(wss.url); // "ws://localhost:8080/"
   * wss.close();
   * ```
   */
  get url(): string {
    // A client's URL was checked and normalised when constructed.
    return this.#core.role === "server"
      ? serverStreamUrl(this.#url)
      : this.#url;
  }

  /**
   * Resolves once the connection is open, with the readable and writable
   * streams and the negotiated subprotocol and extensions; rejects with a
   * {@linkcode WebSocketError} if it cannot be opened (an HTTP 404, for
   * example, with the status in the message), or with the abort
   * reason. Marked as handled: ignoring it never ends the process.
   *
   * @example Waiting for the connection
   * ```ts
   * import { WebSocketStream } from "@streams/websocket";
   *
   * const wss = new WebSocketStream("ws://localhost:8080", {
   *   protocols: ["chat"],
   * });
   * const { readable, writable, protocol } = await wss.opened;
   * console.log(protocol); // "chat"
   * ```
   */
  get opened(): Promise<WebSocketOpenInfo> {
    if (!WebSocketStream.#isStream(this)) return notAStream("opened", this);
    return this.#core.opened;
  }

  /**
   * Resolves with the peer's close code and reason after a clean close;
   * rejects with a {@linkcode WebSocketError} after an unclean one (1006 when
   * no Close frame arrived), or with the abort reason. Marked as handled.
   *
   * @example Learning how the connection ended
   * ```ts
   * import { WebSocketStream, WebSocketError } from "@streams/websocket";
   *
   * const wss = new WebSocketStream("ws://localhost:8080");
   * try {
   *   const { closeCode, reason } = await wss.closed;
   *   console.log("closed cleanly", closeCode, reason);
   * } catch (error) {
   *   if (error instanceof WebSocketError) console.log(error.closeCode);
   * }
   * ```
   */
  get closed(): Promise<WebSocketClosedInfo> {
    if (!WebSocketStream.#isStream(this)) return notAStream("closed", this);
    return this.#core.closed;
  }

  /** Web IDL's brand check, which a promise attribute answers with a rejection. */
  static #isStream(value: unknown): boolean {
    return typeof value === "object" && value !== null && #core in value;
  }

  /**
   * Starts the closing handshake, or abandons the opening one. Without a code
   * an empty Close frame is sent (the peer sees 1005); a reason alone means
   * 1000. Does nothing once closing has started, but always validates.
   *
   * @param closeInfo The close code (1000 or 3000-4999 for a client) and a
   *   reason of at most 123 UTF-8 bytes.
   * @throws {DOMException} `InvalidAccessError` for a code that may not be
   *   sent, `SyntaxError` for an overlong reason.
   * @throws {TypeError} When `closeInfo` is not an object.
   *
   * @example Closing with a code and reason
   * ```ts
   * import { WebSocketStream } from "@streams/websocket";
   *
   * const wss = new WebSocketStream("ws://localhost:8080");
   * await wss.opened;
   * wss.close({ closeCode: 4000, reason: "bye" });
   * await wss.closed;
   * ```
   */
  // `= undefined`, not `?`: Web IDL does not count an optional argument in
  // `close.length`.
  close(closeInfo: WebSocketCloseInfo | undefined = undefined): void {
    const what = "Cannot close WebSocketStream";
    const read = readCloseInfo(closeInfo, what);
    const valid = validateCloseInfo(
      read.closeCode,
      read.reason,
      this.#core.role,
      what,
    );
    this.#core.startClosing(valid.closeCode, valid.reason);
  }
}

/** What `opened` or `closed` read on another object gives, as in Web IDL. */
function notAStream(getter: string, self: unknown): Promise<never> {
  return Promise.reject(
    new TypeError(
      `Cannot read WebSocketStream.${getter}: the object is not a WebSocketStream, received ${
        describeValue(self)
      }`,
    ),
  );
}

/**
 * The checks of the server's handshake answer that JavaScript can make: the
 * subprotocol must be one we offered (and present if we offered any), and
 * no extension may appear that was not offered. Deno's `WebSocket` offers
 * none but accepts any; browsers check extensions themselves.
 */
function checkServerChoice(
  offered: readonly string[],
  protocol: string,
  extensions: string,
): string | undefined {
  if (offered.length === 0 && protocol !== "") {
    return `the server selected subprotocol "${protocol}" although none was offered`;
  }
  if (offered.length > 0 && !offered.includes(protocol)) {
    return protocol === ""
      ? "the server selected no subprotocol from the ones offered"
      : `the server selected subprotocol "${protocol}", which was not offered`;
  }
  return isDeno() ? refuseExtensions(extensions) : undefined;
}

function isDeno(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno === "object";
}

interface DenoWebSocketConstructor {
  new (
    url: string,
    options: { protocols: readonly string[]; headers: Headers },
  ): WebSocket;
}

/** The socket transport's module, once a connection has loaded it. */
let socketModule: typeof import("./socket/client_transport.ts") | undefined;

/**
 * The socket transport for a connection: its modules are loaded by the first
 * connection that uses it, not by every process that imports this one.
 */
function socketTransport(options: SocketTransportOptions): Transport {
  if (socketModule !== undefined) {
    return new socketModule.SocketTransport(options);
  }
  return new LazyTransport(
    async () => {
      socketModule ??= await import("./socket/client_transport.ts");
      return new socketModule.SocketTransport(options);
    },
    true,
    () => requireNetAccess(options.url),
  );
}

/**
 * Connects the runtime's `WebSocket`. Without subprotocols it gets no
 * second argument, which Deno would otherwise convert as a sequence.
 */
function openWebSocket(
  url: string,
  protocols: readonly string[],
  headers: Headers | undefined,
): WebSocket {
  // Node before 22 has none: say so rather than throw a ReferenceError.
  if (typeof globalThis.WebSocket !== "function") {
    throw new TypeError(
      `${CONSTRUCT}: this runtime has no global WebSocket to build on (on Deno, transport: "socket" needs none)`,
    );
  }
  if (headers !== undefined) {
    // Deno 2.5+ takes an options bag; the DOM typings do not know it.
    return new (WebSocket as unknown as DenoWebSocketConstructor)(url, {
      protocols,
      headers,
    });
  }
  return protocols.length === 0
    ? new WebSocket(url)
    : new WebSocket(url, protocols as string[]);
}

/** The core settings made last for connections that offer no subprotocol. */
let lastCoreSettings: {
  from: Readonly<StreamSettings>;
  extensionsChecked: boolean;
  core: Readonly<StreamCoreSettings>;
} | undefined;

/**
 * The core's settings: the stream settings with the check of the server's
 * choice. Connections that offer no subprotocol share them while their
 * stream settings are the same object, as they are for every connection
 * made without stream options.
 *
 * @param extensionsChecked Whether the transport checked the extensions.
 */
function coreSettings(
  settings: Readonly<StreamSettings>,
  offered: readonly string[],
  extensionsChecked: boolean,
): Readonly<StreamCoreSettings> {
  const shareable = offered.length === 0;
  if (
    shareable && lastCoreSettings?.from === settings &&
    lastCoreSettings.extensionsChecked === extensionsChecked
  ) {
    return lastCoreSettings.core;
  }
  const core = {
    ...settings,
    checkHandshake: (protocol: string, extensions: string) =>
      checkServerChoice(offered, protocol, extensionsChecked ? "" : extensions),
  };
  if (shareable) lastCoreSettings = { from: settings, extensionsChecked, core };
  return core;
}

/** The URL parsed last, with what it was parsed from; see {@linkcode parseUrlAgain}. */
let lastUrl: { input: string; base: string | undefined; url: URL } | undefined;

/**
 * Parses `input` as {@linkcode parseWebSocketUrl} does, reusing the last
 * result when the same URL comes again, as it does for a client that
 * reconnects or opens many connections to one server: the runtime's
 * `WebSocket` parses it a second time anyway. The URL object is shared, so
 * nothing may change it.
 */
function parseUrlAgain(input: string, base: string | undefined): URL {
  if (
    lastUrl !== undefined && lastUrl.input === input && lastUrl.base === base
  ) {
    return lastUrl.url;
  }
  const url = parseWebSocketUrl(input, base);
  lastUrl = { input, base, url };
  return url;
}

/** The base for relative URLs: the page's or worker's location, if any. */
function apiBaseUrl(): string | undefined {
  try {
    return (globalThis as { location?: { href: string } }).location?.href;
  } catch {
    // Deno throws on `location` when run without --location.
    return undefined;
  }
}

/** Builds the handshake headers; an invalid one is a TypeError of ours. */
function readHeaders(init: HeadersInit | undefined): Headers | undefined {
  if (init === undefined) return undefined;
  try {
    return new Headers(init);
  } catch (error) {
    throw new TypeError(
      `${CONSTRUCT}: options.headers is invalid: ${describeError(error)}`,
      { cause: error },
    );
  }
}

/** Reads {@linkcode WebSocketStreamOptions.transport}: whether it is `"socket"`. */
function readTransportChoice(transport: unknown): boolean {
  if (transport === undefined || transport === "websocket") return false;
  if (transport !== "socket") {
    throw new TypeError(
      `${CONSTRUCT}: options.transport must be "websocket" or "socket", received ${
        typeof transport === "string"
          ? JSON.stringify(transport)
          : typeof transport
      }`,
    );
  }
  const deno = (globalThis as { Deno?: { connect?: unknown } }).Deno;
  if (typeof deno?.connect !== "function") {
    throw new TypeError(
      `${CONSTRUCT}: options.transport "socket" needs Deno.connect, which this runtime lacks`,
    );
  }
  return true;
}

function requireHeaderSupport(): void {
  const version = (globalThis as { Deno?: { version?: { deno?: string } } })
    .Deno?.version?.deno;
  const [major = 0, minor = 0] = (version ?? "0.0").split(".").map(Number);
  if (version === undefined || major < 2 || (major === 2 && minor < 5)) {
    throw new TypeError(
      `${CONSTRUCT}: options.headers needs Deno 2.5 or later, running ${
        version === undefined ? "a runtime other than Deno" : `Deno ${version}`
      }`,
    );
  }
}
