/**
 * Close code and reason validation shared by {@linkcode WebSocketError},
 * `WebSocketStream.close()` and the server role.
 *
 * @module
 */

import { describeValue } from "./describe_error.ts";
import { utf8ByteLength } from "./message.ts";

/** Which end of the connection is closing; a server may send more codes. */
export type Role = "client" | "server";

/** A validated close code (or none) and reason, ready to put on the wire. */
export interface ValidCloseInfo {
  /** The close code to send, or `undefined` for an empty Close frame. */
  closeCode: number | undefined;
  /** The reason, already well-formed UTF-16 and at most 123 UTF-8 bytes. */
  reason: string;
}

const MAX_REASON_BYTES = 123;

/**
 * Codes RFC 6455 lets an endpoint put in a Close frame, beyond 1000 and the
 * 3000-4999 range open to applications. Clients are held to the WebSocket
 * API's rule (1000 or 3000-4999); a server may also say why it is going away.
 * 1010 (an extension the server did not negotiate) is a client's code only.
 */
const SERVER_ONLY_CODES = new Set([
  1001,
  1002,
  1003,
  1007,
  1008,
  1009,
  1011,
  1012,
  1013,
  1014,
]);

/** Whether `code` may be sent by an endpoint in `role`: an integer code. */
export function isSendableCloseCode(code: number, role: Role): boolean {
  if (!Number.isInteger(code)) return false;
  if (code === 1000 || (code >= 3000 && code <= 4999)) return true;
  return role === "server" && SERVER_ONLY_CODES.has(code);
}

/**
 * Whether a received Close frame may carry `code` (RFC 6455, section 7.4):
 * any code a server may send, and 1010, which only a client sends.
 */
export function isReceivableCloseCode(code: number): boolean {
  return isSendableCloseCode(code, "server") || code === 1010;
}

/**
 * Reads a `WebSocketCloseInfo` dictionary the way WebIDL does: `undefined` and
 * `null` mean "empty", anything else must be an object; `closeCode` is an
 * `[EnforceRange] unsigned short`; `reason` is a USVString.
 */
export function readCloseInfo(
  init: unknown,
  what: string,
): { closeCode: number | undefined; reason: string } {
  if (init === undefined || init === null) {
    return { closeCode: undefined, reason: "" };
  }
  if (typeof init !== "object" && typeof init !== "function") {
    throw new TypeError(
      `${what}: close info must be an object, received ${describeValue(init)}`,
    );
  }
  // Each member is read and converted before the next, in WebIDL's order:
  // a getter or conversion that throws leaves the later ones untouched.
  const dictionary = init as { closeCode?: unknown; reason?: unknown };
  const givenCode = dictionary.closeCode;
  const closeCode = givenCode === undefined
    ? undefined
    : toUnsignedShort(givenCode, what);
  const givenReason = dictionary.reason;
  const reason = givenReason === undefined
    ? ""
    : `${givenReason}`.toWellFormed();
  return { closeCode, reason };
}

function toUnsignedShort(value: unknown, what: string): number {
  // WebIDL's ToNumber refuses a BigInt, which `Number()` would convert.
  const number = typeof value === "symbol" || typeof value === "bigint"
    ? NaN
    : Number(value);
  if (!Number.isFinite(number)) {
    throw new TypeError(
      `${what}: closeCode must be a finite number, received ${
        describeValue(value)
      }`,
    );
  }
  const integer = Math.trunc(number);
  if (integer < 0 || integer > 65535) {
    throw new TypeError(
      `${what}: closeCode must be between 0 and 65535, received ${integer}`,
    );
  }
  return integer;
}

/**
 * Validates a close code and reason as the standard's "validate close code and
 * reason" does: InvalidAccessError for a code the role may not send,
 * SyntaxError for a reason over 123 UTF-8 bytes, and 1000 for a reason given
 * without a code.
 */
export function validateCloseInfo(
  closeCode: number | undefined,
  reason: string,
  role: Role,
  what: string,
): ValidCloseInfo {
  if (closeCode !== undefined && !isSendableCloseCode(closeCode, role)) {
    const allowed = role === "client"
      ? "1000 or between 3000 and 4999"
      : "1000, 1001-1003, 1007-1009, 1011-1014 or between 3000 and 4999";
    throw new DOMException(
      `${what}: close code must be ${allowed}, received ${closeCode}`,
      "InvalidAccessError",
    );
  }
  const reasonBytes = utf8ByteLength(reason);
  if (reasonBytes > MAX_REASON_BYTES) {
    throw new DOMException(
      `${what}: reason must be at most ${MAX_REASON_BYTES} UTF-8 bytes, received ${reasonBytes}`,
      "SyntaxError",
    );
  }
  if (closeCode === undefined && reason !== "") closeCode = 1000;
  return { closeCode, reason };
}
