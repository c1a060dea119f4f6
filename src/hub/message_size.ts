/**
 * How many bytes a message counts for in a subscriber's queue.
 *
 * @module
 */

import { utf8ByteLength } from "../message.ts";

/**
 * The UTF-8 length of a text message, the length of a binary one, counted
 * without encoding (a lone surrogate counts 3 bytes, as it is sent as
 * U+FFFD).
 */
export function measureMessage(message: string | Uint8Array): number {
  return typeof message === "string"
    ? utf8ByteLength(message)
    : message.byteLength;
}
