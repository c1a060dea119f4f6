/**
 * Negotiation of the permessage-deflate extension (RFC 7692, section 7.1)
 * over `Sec-WebSocket-Extensions` (RFC 6455, section 9.1): the client's offer
 * and its check of the server's answer, and the server's choice among a
 * client's offers.
 *
 * @module
 */

import { describeValue } from "../describe_error.ts";

/** The extension's registered name. */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/**
 * How permessage-deflate (RFC 7692) is negotiated and used. Each endpoint
 * compresses with its own window and context; the parameters named `server*`
 * are about what the server sends, `client*` about what the client sends.
 *
 * @example A client that asks the server to keep no state between messages
 * ```ts
 * import { WebSocketStream } from "@streams/websocket";
 *
 * const wss = new WebSocketStream("ws://localhost:8080/", {
 *   transport: "socket",
 *   compression: { serverNoContextTakeover: true, threshold: 4096 },
 *   signal: AbortSignal.abort(),
 * });
 * await wss.opened.catch(() => {});
 * ```
 */
export interface CompressionOptions {
  /**
   * The server starts every message with an empty context, so it keeps no
   * compression state between messages (less memory, larger messages). A
   * client asks for it; a server always answers with it.
   *
   * @default {false}
   */
  serverNoContextTakeover?: boolean;
  /**
   * The client starts every message with an empty context. A client offers
   * it; a server always asks for it, so it keeps no inflate state between
   * messages.
   *
   * @default {false}
   */
  clientNoContextTakeover?: boolean;
  /**
   * The base-2 logarithm of the largest window the server compresses with,
   * 8 to 15 (256 bytes to 32 KiB): a client asks for it, a server uses at
   * most it.
   *
   * @default {15}
   */
  serverMaxWindowBits?: number;
  /**
   * The base-2 logarithm of the largest window the client compresses with,
   * 8 to 15: a client uses at most it, a server asks for it (and then
   * declines offers of clients that cannot limit their window).
   *
   * @default {15}
   */
  clientMaxWindowBits?: number;
  /**
   * Messages shorter than this many bytes are sent uncompressed. By default
   * every message is compressed while this end keeps its context between
   * messages (as npm `ws` does): small messages then shrink well against
   * the ones before them. Without context takeover on this end's side the
   * default is 1024, since a short message compressed on its own hardly
   * shrinks.
   *
   * @default {0} with context takeover, `1024` without
   */
  threshold?: number;
  /**
   * zlib's compression level for what this end sends, 0 (none) to 9
   * (smallest, slowest). The default trades a little size for speed: on
   * JSON chat messages zlib's own default, 6, took about twice the CPU for
   * about 5% fewer bytes (see the
   * [benchmarks](https://github.com/streams-dev/websocket/blob/main/bench/README.md#compression)).
   *
   * @default {4}
   */
  level?: number;
}

/** What both ends agreed on: each side's context reset and window. */
export interface DeflateParameters {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** 8 to 15; 15 when the answer named none. */
  serverMaxWindowBits: number;
  /** 8 to 15; 15 when the answer named none. */
  clientMaxWindowBits: number;
}

/** An agreement a server reached: the parameters and its answer's value. */
export interface DeflateAgreement {
  parameters: DeflateParameters;
  /** The `Sec-WebSocket-Extensions` value of the server's answer. */
  response: string;
}

/** One element of an extension list: a name and its parameters in order. */
export interface ExtensionElement {
  name: string;
  /** Each parameter's name and value; `true` for a parameter without one. */
  params: [string, string | true][];
}

/** The largest window zlib knows, and the default of both directions. */
const MAX_WINDOW_BITS = 15;
const MIN_WINDOW_BITS = 8;

const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/**
 * Parses a `Sec-WebSocket-Extensions` value (several header lines joined
 * with commas) into its elements, with names in lower case and quoted values
 * unquoted. Empty list elements are skipped, as RFC 9110, section 5.6.1 asks
 * of recipients. Returns why the value is malformed instead, when it is.
 */
export function parseExtensionList(value: string): ExtensionElement[] | string {
  const elements: ExtensionElement[] = [];
  let at = 0;
  const skipSpace = () => {
    while (value[at] === " " || value[at] === "\t") at++;
  };
  const readToken = () => {
    const start = at;
    while (at < value.length && TCHAR.test(value[at]!)) at++;
    return value.slice(start, at);
  };
  const malformed = (what: string) =>
    `${what} at character ${at + 1} of ${JSON.stringify(value)}`;
  for (;;) {
    skipSpace();
    if (at === value.length) return elements;
    if (value[at] === ",") {
      at++;
      continue;
    }
    const name = readToken().toLowerCase();
    if (name === "") return malformed("an extension name was expected");
    const element: ExtensionElement = { name, params: [] };
    elements.push(element);
    for (;;) {
      skipSpace();
      if (at === value.length) return elements;
      if (value[at] === ",") break;
      if (value[at] !== ";") return malformed("';' or ',' was expected");
      at++;
      skipSpace();
      const param = readToken().toLowerCase();
      if (param === "") return malformed("a parameter name was expected");
      skipSpace();
      if (value[at] !== "=") {
        element.params.push([param, true]);
        continue;
      }
      at++;
      skipSpace();
      let paramValue: string;
      if (value[at] === '"') {
        const quoted = readQuotedString(value, at);
        if (quoted === undefined) return malformed("an unterminated string");
        [paramValue, at] = quoted;
        // RFC 6455, section 9.1: a quoted value must still be a token.
        if (paramValue === "" || ![...paramValue].every((c) => TCHAR.test(c))) {
          return malformed(`the quoted value of ${param} is not a token`);
        }
      } else {
        paramValue = readToken();
        if (paramValue === "") return malformed(`${param} has no value`);
      }
      element.params.push([param, paramValue]);
    }
  }
}

/** The unescaped content of the quoted string at `start`, and where it ends. */
function readQuotedString(
  value: string,
  start: number,
): [string, number] | undefined {
  let content = "";
  for (let at = start + 1; at < value.length; at++) {
    const char = value[at]!;
    if (char === '"') return [content, at + 1];
    if (char === "\\") {
      at++;
      if (at === value.length) return undefined;
      content += value[at];
    } else {
      content += char;
    }
  }
  return undefined;
}

/**
 * Reads the `compression` option: `false` turns compression off (returns
 * `undefined`), `true` or `undefined` with `byDefault` set takes the
 * defaults, an object sets them one by one.
 */
export function readCompressionOption(
  value: unknown,
  byDefault: boolean,
  what: string,
): CompressionOptions | undefined {
  if (value === undefined) return byDefault ? {} : undefined;
  if (value === false) return undefined;
  if (value === true) return {};
  if (typeof value !== "object" || value === null) {
    throw new TypeError(
      `${what}: options.compression must be a boolean or an object, received ${
        describeValue(value)
      }`,
    );
  }
  const options = value as Record<string, unknown>;
  const result: CompressionOptions = {};
  for (const name of ["serverNoContextTakeover", "clientNoContextTakeover"]) {
    const flag = options[name];
    if (flag === undefined) continue;
    if (typeof flag !== "boolean") {
      throw new TypeError(
        `${what}: options.compression.${name} must be a boolean, received ${
          describeValue(flag)
        }`,
      );
    }
    result[name as "serverNoContextTakeover"] = flag;
  }
  const windowBits = `an integer from ${MIN_WINDOW_BITS} to ${MAX_WINDOW_BITS}`;
  const isWindowBits = (bits: number) =>
    Number.isInteger(bits) && bits >= MIN_WINDOW_BITS &&
    bits <= MAX_WINDOW_BITS;
  for (const name of ["serverMaxWindowBits", "clientMaxWindowBits"] as const) {
    const bits = readNumber(options, name, what, windowBits, isWindowBits);
    if (bits !== undefined) result[name] = bits;
  }
  const level = readNumber(
    options,
    "level",
    what,
    "an integer from 0 to 9",
    (level) => Number.isInteger(level) && level >= 0 && level <= 9,
  );
  if (level !== undefined) result.level = level;
  const threshold = readNumber(
    options,
    "threshold",
    what,
    "a number of bytes, at least 0",
    (threshold) => threshold >= 0,
  );
  if (threshold !== undefined) result.threshold = threshold;
  return result;
}

/**
 * A number member of the `compression` option, `undefined` when absent: a
 * TypeError when it is not a number, a RangeError when `fits` refuses it
 * (`range` says what fits).
 */
function readNumber(
  options: Record<string, unknown>,
  name: string,
  what: string,
  range: string,
  fits: (value: number) => boolean,
): number | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== "number") {
    throw new TypeError(
      `${what}: options.compression.${name} must be a number, received ${
        describeValue(value)
      }`,
    );
  }
  if (!fits(value)) {
    throw new RangeError(
      `${what}: options.compression.${name} must be ${range}, received ${value}`,
    );
  }
  return value;
}

/** The client's `Sec-WebSocket-Extensions` value offering permessage-deflate. */
export function createDeflateOffer(options: CompressionOptions): string {
  const params = [PERMESSAGE_DEFLATE];
  if (options.serverNoContextTakeover) {
    params.push("server_no_context_takeover");
  }
  if (options.clientNoContextTakeover) {
    params.push("client_no_context_takeover");
  }
  if (options.serverMaxWindowBits !== undefined) {
    params.push(`server_max_window_bits=${options.serverMaxWindowBits}`);
  }
  // Without a value it says that the server may pick our window, which lets
  // a server limit what it must hold to inflate our messages.
  params.push(
    options.clientMaxWindowBits === undefined
      ? "client_max_window_bits"
      : `client_max_window_bits=${options.clientMaxWindowBits}`,
  );
  return params.join("; ");
}

/** The parameters of one permessage-deflate element, checked for form. */
interface ElementParameters {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: the parameter without a value (allowed in offers only). */
  clientMaxWindowBits: number | true | undefined;
}

/**
 * Reads an element's parameters: unknown or repeated ones and values out of
 * range (RFC 7692, section 7.1) give the reason the element is invalid.
 */
function readElementParameters(
  element: ExtensionElement,
): ElementParameters | string {
  const result: ElementParameters = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of element.params) {
    if (seen.has(name)) return `${name} appears more than once`;
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== true) {
          return `${name} takes no value, received ${JSON.stringify(value)}`;
        }
        result[
          name === "server_no_context_takeover"
            ? "serverNoContextTakeover"
            : "clientNoContextTakeover"
        ] = true;
        break;
      case "server_max_window_bits":
      case "client_max_window_bits": {
        const bits = value === true && name === "client_max_window_bits"
          ? true
          : readWindowBits(value);
        if (bits === undefined) {
          return `${name} must be an integer from ${MIN_WINDOW_BITS} to ${MAX_WINDOW_BITS}, received ${
            value === true ? "no value" : JSON.stringify(value)
          }`;
        }
        if (name === "client_max_window_bits") {
          result.clientMaxWindowBits = bits;
        } else result.serverMaxWindowBits = bits as number;
        break;
      }
      default:
        return `unknown parameter ${name}`;
    }
  }
  return result;
}

/** 8 to 15 written as a decimal without leading zeros, else `undefined`. */
function readWindowBits(value: string | true): number | undefined {
  if (value === true || !/^[1-9][0-9]?$/.test(value)) return undefined;
  const bits = Number(value);
  return bits >= MIN_WINDOW_BITS && bits <= MAX_WINDOW_BITS ? bits : undefined;
}

/**
 * Checks a server's `Sec-WebSocket-Extensions` answer to
 * {@linkcode createDeflateOffer}`(options)`. Returns what was agreed,
 * `undefined` when the server declined (an empty answer), or why the answer
 * is invalid, which fails the handshake (RFC 6455, section 4.1; RFC 7692,
 * section 5).
 */
export function acceptDeflateResponse(
  header: string,
  options: CompressionOptions,
): DeflateParameters | undefined | string {
  const elements = parseExtensionList(header);
  if (typeof elements === "string") {
    return `the server's Sec-WebSocket-Extensions is malformed: ${elements}`;
  }
  if (elements.length === 0) return undefined;
  const [element, ...others] = elements;
  if (element!.name !== PERMESSAGE_DEFLATE || others.length > 0) {
    const names = elements.map(({ name }) => name).join(", ");
    return `the server agreed to extensions that were not offered: ${names}`;
  }
  const invalid = (why: string) =>
    `the server's permessage-deflate answer is invalid: ${why}`;
  const params = readElementParameters(element!);
  if (typeof params === "string") return invalid(params);
  if (options.serverNoContextTakeover && !params.serverNoContextTakeover) {
    return invalid("server_no_context_takeover was asked for but is missing");
  }
  if (options.serverMaxWindowBits !== undefined) {
    if (params.serverMaxWindowBits === undefined) {
      return invalid("server_max_window_bits was asked for but is missing");
    }
    if (params.serverMaxWindowBits > options.serverMaxWindowBits) {
      return invalid(
        `server_max_window_bits=${params.serverMaxWindowBits} is more than the ${options.serverMaxWindowBits} asked for`,
      );
    }
  }
  if (params.clientMaxWindowBits === true) {
    return invalid("client_max_window_bits needs a value in an answer");
  }
  if (
    params.clientMaxWindowBits !== undefined &&
    options.clientMaxWindowBits !== undefined &&
    params.clientMaxWindowBits > options.clientMaxWindowBits
  ) {
    return invalid(
      `client_max_window_bits=${params.clientMaxWindowBits} is more than the ${options.clientMaxWindowBits} offered`,
    );
  }
  return {
    serverNoContextTakeover: params.serverNoContextTakeover,
    clientNoContextTakeover: params.clientNoContextTakeover ||
      options.clientNoContextTakeover === true,
    serverMaxWindowBits: params.serverMaxWindowBits ?? MAX_WINDOW_BITS,
    clientMaxWindowBits: params.clientMaxWindowBits ??
      options.clientMaxWindowBits ?? MAX_WINDOW_BITS,
  };
}

/**
 * Picks the first of a client's permessage-deflate offers that the server
 * can accept with `options` (RFC 7692, section 5.1), and builds its answer.
 * Invalid offers are declined, as is an offer without
 * `client_max_window_bits` when `options.clientMaxWindowBits` asks to limit
 * the client's window. Returns `undefined` when none is accepted, or why the
 * header is malformed (a reason for a 400 answer).
 */
export function negotiateDeflate(
  header: string,
  options: CompressionOptions,
): DeflateAgreement | undefined | string {
  const elements = parseExtensionList(header);
  if (typeof elements === "string") {
    return `the client's Sec-WebSocket-Extensions is malformed: ${elements}`;
  }
  for (const element of elements) {
    if (element.name !== PERMESSAGE_DEFLATE) continue;
    const offer = readElementParameters(element);
    if (typeof offer === "string") continue;
    const offered = offer.clientMaxWindowBits;
    if (options.clientMaxWindowBits !== undefined && offered === undefined) {
      continue;
    }
    const parameters: DeflateParameters = {
      serverNoContextTakeover: offer.serverNoContextTakeover ||
        options.serverNoContextTakeover === true,
      clientNoContextTakeover: offer.clientNoContextTakeover ||
        options.clientNoContextTakeover === true,
      serverMaxWindowBits: Math.min(
        offer.serverMaxWindowBits ?? MAX_WINDOW_BITS,
        options.serverMaxWindowBits ?? MAX_WINDOW_BITS,
      ),
      clientMaxWindowBits: Math.min(
        offered === true || offered === undefined ? MAX_WINDOW_BITS : offered,
        options.clientMaxWindowBits ?? MAX_WINDOW_BITS,
      ),
    };
    const response = [PERMESSAGE_DEFLATE];
    if (parameters.serverNoContextTakeover) {
      response.push("server_no_context_takeover");
    }
    if (parameters.clientNoContextTakeover) {
      response.push("client_no_context_takeover");
    }
    // An offer that names a server window must be answered with one.
    if (
      offer.serverMaxWindowBits !== undefined ||
      parameters.serverMaxWindowBits < MAX_WINDOW_BITS
    ) {
      response.push(`server_max_window_bits=${parameters.serverMaxWindowBits}`);
    }
    if (
      offered !== undefined &&
      (offered !== true || parameters.clientMaxWindowBits < MAX_WINDOW_BITS)
    ) {
      response.push(`client_max_window_bits=${parameters.clientMaxWindowBits}`);
    }
    return { parameters, response: response.join("; ") };
  }
  return undefined;
}
