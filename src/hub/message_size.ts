/**
 * How many bytes a message counts for in a subscriber's queue.
 *
 * @module
 */

/**
 * The UTF-8 length of a text message, the length of a binary one, counted
 * without encoding: a lone surrogate counts 3 bytes, as it is sent as U+FFFD.
 */
export function measureMessage(message: string | Uint8Array): number {
  if (typeof message !== "string") return message.byteLength;
  let bytes = message.length;
  for (let i = 0; i < message.length; i++) {
    const code = message.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < message.length) {
      const next = message.charCodeAt(i + 1);
      // A pair is 4 bytes for its 2 UTF-16 units.
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2;
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}
