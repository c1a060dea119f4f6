/**
 * Synchronous checks of the constructor's URL and protocol list, in the order
 * the standard gives them, and of the extensions a server's answer accepts.
 *
 * @module
 */

import { describeValue } from "./describe_error.ts";

/**
 * Parses a WebSocket URL: http(s) becomes ws(s), other schemes and any
 * fragment are a `SyntaxError` whose message starts with `what`.
 */
export function parseWebSocketUrl(
  input: string,
  base?: string,
  what = "Cannot construct WebSocketStream",
): URL {
  let url: URL;
  try {
    url = new URL(input, base);
  } catch {
    throw new DOMException(
      `${what}: invalid URL "${input}"`,
      "SyntaxError",
    );
  }
  useWebSocketScheme(url);
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new DOMException(
      `${what}: URL scheme must be ws, wss, http or https, received "${
        url.protocol.slice(0, -1)
      }"`,
      "SyntaxError",
    );
  }
  // `hash` is "" for both "no fragment" and an empty one ("ws://h/#").
  if (url.hash !== "" || url.href.endsWith("#")) {
    throw new DOMException(
      `${what}: URL must not have a fragment, received "${url.href}"`,
      "SyntaxError",
    );
  }
  return url;
}

/** Makes an `http:` URL a `ws:` one and an `https:` URL a `wss:` one. */
function useWebSocketScheme(url: URL): void {
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
}

/**
 * A server stream's URL from its request's: `ws:` or `wss:`, normalised as
 * any URL is, and never refused, as the client wrote its Host header: a
 * fragment stays, and what does not parse is only given its new scheme.
 */
export function serverStreamUrl(requestUrl: string): string {
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    return requestUrl.replace(/^http/, "ws");
  }
  useWebSocketScheme(url);
  return url.href;
}

const SEPARATORS = new Set('()<>@,;:\\"/[]?={}');

/** Whether `token` may appear in `Sec-WebSocket-Protocol` (RFC 6455 §4.1). */
export function isProtocolToken(token: string): boolean {
  if (token === "") return false;
  for (const char of token) {
    const code = char.codePointAt(0)!;
    if (code < 0x21 || code > 0x7e || SEPARATORS.has(char)) return false;
  }
  return true;
}

/** The protocol list of connections that offer none, shared by all. */
const NO_PROTOCOLS: readonly string[] = Object.freeze([]);

/**
 * Reads `options.protocols` as a `sequence<USVString>`: a plain string is a
 * TypeError.
 */
export function toProtocolList(protocols: unknown): readonly string[] {
  if (protocols === undefined) return NO_PROTOCOLS;
  if (
    typeof protocols !== "object" || protocols === null ||
    typeof (protocols as Iterable<unknown>)[Symbol.iterator] !== "function"
  ) {
    throw new TypeError(
      `Cannot construct WebSocketStream: options.protocols must be a sequence of strings, received ${
        describeValue(protocols)
      }`,
    );
  }
  return Array.from(
    protocols as Iterable<unknown>,
    (protocol) => `${protocol}`.toWellFormed(),
  );
}

/**
 * Refuses invalid subprotocol tokens and case-insensitive repeats with a
 * SyntaxError.
 */
export function validateProtocols(list: readonly string[]): void {
  if (list.length === 0) return;
  const seen = new Set<string>();
  for (const protocol of list) {
    if (!isProtocolToken(protocol)) {
      throw new DOMException(
        `Cannot construct WebSocketStream: invalid subprotocol "${protocol}"`,
        "SyntaxError",
      );
    }
    const key = protocol.toLowerCase();
    if (seen.has(key)) {
      throw new DOMException(
        `Cannot construct WebSocketStream: subprotocol "${protocol}" is repeated`,
        "SyntaxError",
      );
    }
    seen.add(key);
  }
}

/**
 * Why an answer to a request that offered no extension fails: any extension
 * it accepts (RFC 6455, section 4.1).
 */
export function refuseExtensions(extensions: string): string | undefined {
  return extensions === ""
    ? undefined
    : `the server accepted extensions ${
      JSON.stringify(extensions)
    }, which were not offered`;
}
