/**
 * The options both roles share, their defaults and their validation.
 *
 * @module
 */

import { type Role, validateCloseInfo } from "./close_code.ts";
import { describeValue } from "./describe_error.ts";
import type { StreamCoreSettings } from "./stream_core.ts";

// Option readers elsewhere take it from here, with readOptionsObject.
export { describeValue };

/**
 * Options for buffering and closing, taken by the client and the server alike.
 *
 * @example A client that tolerates a slow reader and closes quickly
 * ```ts
 * import { WebSocketStream } from "@streams/websocket";
 *
 * const wss = new WebSocketStream("ws://localhost:8080/", {
 *   receiveLimit: 64 * 1024 * 1024,
 *   writeHighWaterMark: 256 * 1024,
 *   closeTimeout: 1000,
 *   signal: AbortSignal.abort(),
 * });
 * await wss.closed.catch(() => {});
 * ```
 */
export interface StreamOptions {
  /**
   * A write resolves once the socket's `bufferedAmount` is at most this many
   * bytes; above it, the write waits for the socket to drain.
   *
   * @default {1048576} 1 MiB
   */
  writeHighWaterMark?: number;
  /**
   * The most bytes of received messages held for a reader that falls behind
   * (text counts its length in UTF-16 code units, and each message also
   * counts 64 bytes of bookkeeping). When a message would go past it, the
   * connection is closed with `overflowCloseCode`. It also bounds what a peer
   * may send after our Close: past an eighth of it (at least 512 KiB) we stop
   * waiting for the peer's Close, past half of it (at least 1 MiB) the
   * connection is dropped at once. (A Deno server socket already ends the
   * connection at the first message after our Close.) Where reading can
   * pause (`transport: "socket"`, `handleUpgrade`), a slow reader pauses the
   * peer instead, and the limit is on one message's payload bytes: a message
   * of exactly `receiveLimit` bytes is delivered, and one may have at most
   * `receiveLimit / 64` frames.
   *
   * @default {16777216} 16 MiB
   */
  receiveLimit?: number;
  /**
   * The close code sent when the receive limit is exceeded: 1000 or
   * 3000-4999 (and, in the server role, the codes a server may send:
   * 1001-1003, 1007-1009 and 1011-1014).
   *
   * @default {4009}
   */
  overflowCloseCode?: number;
  /**
   * How long to wait, in milliseconds, for the peer to answer our Close
   * before dropping the connection and reporting an unclean close (1006).
   *
   * @default {5000}
   */
  closeTimeout?: number;
}

/** See {@linkcode StreamOptions.writeHighWaterMark}. */
const DEFAULT_WRITE_HIGH_WATER_MARK = 1024 * 1024;
/** See {@linkcode StreamOptions.receiveLimit}. */
const DEFAULT_RECEIVE_LIMIT = 16 * 1024 * 1024;
/** See {@linkcode StreamOptions.overflowCloseCode}. */
const DEFAULT_OVERFLOW_CLOSE_CODE = 4009;
/** See {@linkcode StreamOptions.closeTimeout}. */
const DEFAULT_CLOSE_TIMEOUT = 5000;

/** The validated settings of a stream, plus the send high-water mark. */
export interface StreamSettings
  extends Omit<StreamCoreSettings, "checkHandshake"> {
  writeHighWaterMark: number;
}

/**
 * The settings of each role when no stream option is given, shared by every
 * connection: a server holds them for each of its connections.
 */
const DEFAULT_SETTINGS: Readonly<Record<Role, Readonly<StreamSettings>>> = {
  client: Object.freeze(defaultSettings("client")),
  server: Object.freeze(defaultSettings("server")),
};

function defaultSettings(role: Role): StreamSettings {
  return {
    role,
    writeHighWaterMark: DEFAULT_WRITE_HIGH_WATER_MARK,
    receiveLimit: DEFAULT_RECEIVE_LIMIT,
    overflowCloseCode: DEFAULT_OVERFLOW_CLOSE_CODE,
    closeTimeout: DEFAULT_CLOSE_TIMEOUT,
  };
}

/**
 * Checks the {@linkcode StreamOptions} and fills in the defaults. Each option
 * is read once, as a dictionary's members are.
 */
export function readStreamOptions(
  options: StreamOptions,
  role: Role,
  what: string,
): Readonly<StreamSettings> {
  const { writeHighWaterMark, receiveLimit, overflowCloseCode, closeTimeout } =
    options;
  if (
    writeHighWaterMark === undefined && receiveLimit === undefined &&
    overflowCloseCode === undefined && closeTimeout === undefined
  ) {
    return DEFAULT_SETTINGS[role];
  }
  const closeCode = overflowCloseCode ?? DEFAULT_OVERFLOW_CLOSE_CODE;
  if (typeof closeCode !== "number") {
    throw new TypeError(
      `${what}: options.overflowCloseCode must be a number, received ${
        describeValue(closeCode)
      }`,
    );
  }
  validateCloseInfo(closeCode, "", role, `${what}: overflowCloseCode`);
  return {
    role,
    writeHighWaterMark: readAmount(
      writeHighWaterMark,
      DEFAULT_WRITE_HIGH_WATER_MARK,
      "writeHighWaterMark",
      what,
    ),
    receiveLimit: readAmount(
      receiveLimit,
      DEFAULT_RECEIVE_LIMIT,
      "receiveLimit",
      what,
    ),
    overflowCloseCode: closeCode,
    closeTimeout: readAmount(
      closeTimeout,
      DEFAULT_CLOSE_TIMEOUT,
      "closeTimeout",
      what,
      MAX_TIMER_DELAY,
    ),
  };
}

/** The longest delay `setTimeout` honours, in ms; longer ones fire at once. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** Reads a non-negative number option, `fallback` when absent. */
export function readAmount(
  value: unknown,
  fallback: number,
  name: string,
  what: string,
  max = Infinity,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(
      `${what}: options.${name} must be a number, received ${
        describeValue(value)
      }`,
    );
  }
  if (Number.isNaN(value) || value < 0 || value > max) {
    throw new RangeError(
      `${what}: options.${name} must be ${
        max === Infinity ? "0 or more" : `between 0 and ${max}`
      }, received ${value}`,
    );
  }
  return value;
}

/**
 * Checks an option that must be a positive integer: a `TypeError` for what
 * is not a number, a `RangeError` for a number that is not one.
 */
export function validatePositiveInteger(
  value: unknown,
  name: string,
  what: string,
): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `${what}: ${name} must be a number, received ${describeValue(value)}`,
    );
  }
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `${what}: ${name} must be a positive integer, received ${value}`,
    );
  }
  return value;
}

/** What {@linkcode readOptionsObject} reads when no options are given. */
const NO_OPTIONS: object = Object.freeze({});

/**
 * Reads an options argument: `undefined` and `null` are no options, anything
 * else that is not an object (a function included: passed here it is a
 * callback in the wrong place) is a TypeError whose message starts with
 * `what`.
 */
export function readOptionsObject<T extends object>(
  options: T | null | undefined,
  what: string,
): Readonly<Partial<T>> {
  if (options === undefined || options === null) {
    return NO_OPTIONS as Partial<T>;
  }
  if (typeof options !== "object") {
    throw new TypeError(
      `${what}: options must be an object, received ${describeValue(options)}`,
    );
  }
  return options;
}

/**
 * Reads a Web IDL dictionary argument as {@linkcode readOptionsObject}
 * does, except that a function is taken as one: Web IDL converts any
 * object, functions too, as browsers do.
 */
export function readDictionary<T extends object>(
  options: T | null | undefined,
  what: string,
): Readonly<Partial<T>> {
  return typeof options === "function"
    ? options
    : readOptionsObject(options, what);
}
