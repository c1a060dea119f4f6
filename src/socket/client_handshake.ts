/**
 * The client's side of the RFC 6455 opening handshake over a byte stream: the
 * HTTP/1.1 Upgrade request and the checks of the server's 101 answer.
 *
 * @module
 */

import { sha1 } from "./sha1.ts";

const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const encoder = new TextEncoder();

/** The headers the handshake sets itself; `headers` may not override them. */
const HANDSHAKE_HEADERS = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "sec-websocket-accept",
]);

/** The longest response head accepted, in bytes. */
export const MAX_RESPONSE_HEAD_BYTES = 16 * 1024;

/**
 * Throws a TypeError naming the first header in `headers` that the handshake
 * sets itself.
 */
export function refuseHandshakeHeaders(headers: Headers, what: string): void {
  for (const [name] of headers) {
    if (HANDSHAKE_HEADERS.has(name)) {
      throw new TypeError(
        `${what}: options.headers cannot set ${name}, which the WebSocket handshake sets itself`,
      );
    }
  }
}

/** An opening handshake in progress: the request to send and its key. */
export interface HandshakeRequest {
  /** The request head, ready to write. */
  bytes: Uint8Array;
  /**
   * The `Sec-WebSocket-Key` sent; {@linkcode acceptFor} gives the answer a
   * genuine server carries.
   */
  key: string;
}

/**
 * Builds the Upgrade request for `url`, offering `protocols` and, unless
 * empty, the `extensions` offer.
 */
export function createHandshakeRequest(
  url: URL,
  protocols: readonly string[],
  headers: Headers | undefined,
  extensions = "",
): HandshakeRequest {
  const nonce = crypto.getRandomValues(new Uint8Array(16));
  const key = toBase64(nonce);
  const lines = [
    `GET ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  if (protocols.length > 0) {
    lines.push(`Sec-WebSocket-Protocol: ${protocols.join(", ")}`);
  }
  if (extensions !== "") lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
  for (const [name, value] of headers ?? []) lines.push(`${name}: ${value}`);
  return { bytes: encoder.encode(`${lines.join("\r\n")}\r\n\r\n`), key };
}

/** The `Sec-WebSocket-Accept` value that answers `key`. */
export function acceptFor(key: string): string {
  return toBase64(sha1(encoder.encode(key + ACCEPT_GUID)));
}

/**
 * `bytes` in base64: with `Uint8Array.prototype.toBase64` where the runtime
 * has it, which costs far less than `btoa` of a binary string.
 */
function toBase64(bytes: Uint8Array): string {
  const native = (bytes as { toBase64?: () => string }).toBase64;
  return native === undefined
    ? btoa(String.fromCharCode(...bytes))
    : native.call(bytes);
}

/** What a valid answer negotiated. */
export interface HandshakeResult {
  protocol: string;
  extensions: string;
}

/**
 * Checks the server's answer as RFC 6455, section 4.1 says a client must:
 * status 101, `Upgrade: websocket`, `Connection: Upgrade` and the right
 * `Sec-WebSocket-Accept`. Returns what was negotiated, or why the handshake
 * failed. The subprotocol and extensions are judged by the caller.
 */
export function checkHandshakeResponse(
  head: string,
  expectedAccept: string,
): HandshakeResult | string {
  // Lines are sliced off one at a time: an array of them, destructured and
  // iterated, cost a handshake in a fresh process more than the checks.
  const statusEnd = lineEnd(head, 0);
  const statusLine = head.slice(0, statusEnd);
  const status = /^HTTP\/1\.1 (\d{3})(?: (.*))?$/.exec(statusLine);
  if (status === null) {
    return `the server did not answer with HTTP/1.1: ${
      JSON.stringify(statusLine.slice(0, 80))
    }`;
  }
  if (status[1] !== "101") {
    return `the server answered ${status[1]}${
      status[2] ? ` ${status[2]}` : ""
    } instead of 101 Switching Protocols`;
  }
  const fields = new Map<string, string[]>();
  let last: string[] | undefined;
  for (let from = statusEnd + 2; from <= head.length;) {
    const end = lineEnd(head, from);
    const line = head.slice(from, end);
    from = end + 2;
    if (line === "") continue;
    if (line[0] === " " || line[0] === "\t") {
      // An obsolete folded line continues the previous value (RFC 9112,
      // section 5.2): a user agent unfolds it.
      if (last === undefined) {
        return "the server's answer starts its headers with a folded line";
      }
      const previous = last.pop();
      last.push(previous ? `${previous} ${line.trim()}` : line.trim());
      continue;
    }
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) {
      return `the server sent a malformed header line: ${
        JSON.stringify(line.slice(0, 80))
      }`;
    }
    last = fields.get(name) ?? [];
    last.push(line.slice(colon + 1).trim());
    fields.set(name, last);
  }
  const field = (name: string) => fields.get(name)?.join(", ");
  const upgrade = field("upgrade");
  if (upgrade?.toLowerCase() !== "websocket") {
    return upgrade === undefined
      ? "the server's answer lacks Upgrade: websocket"
      : `the server's answer has Upgrade: ${
        JSON.stringify(upgrade)
      } instead of websocket`;
  }
  const connection = field("connection");
  if (
    !connection?.split(",").some((token) =>
      token.trim().toLowerCase() === "upgrade"
    )
  ) {
    return connection === undefined
      ? "the server's answer lacks Connection: Upgrade"
      : `the server's answer has Connection: ${
        JSON.stringify(connection)
      }, without Upgrade`;
  }
  const accept = field("sec-websocket-accept");
  if (accept !== expectedAccept) {
    return `the server's Sec-WebSocket-Accept does not match the key sent: expected ${
      JSON.stringify(expectedAccept)
    }, received ${accept === undefined ? "none" : JSON.stringify(accept)}`;
  }
  const protocols = fields.get("sec-websocket-protocol") ?? [];
  if (protocols.length > 1) {
    return `the server selected more than one subprotocol: ${
      JSON.stringify(protocols.join(", "))
    }`;
  }
  return {
    protocol: protocols[0] ?? "",
    extensions: field("sec-websocket-extensions") ?? "",
  };
}

/** Where the line that starts at `from` ends: its CRLF, or the end of `text`. */
function lineEnd(text: string, from: number): number {
  const end = text.indexOf("\r\n", from);
  return end === -1 ? text.length : end;
}
