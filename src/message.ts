/**
 * Conversion between stream chunks and WebSocket messages.
 *
 * @module
 */

/** One WebSocket message: text as a string, binary as bytes. */
export type Message = string | Uint8Array;

/**
 * Turns a chunk written to the writable into a message, as the standard's
 * write steps do: a BufferSource is sent as binary, anything else as text
 * (ToString, lone surrogates replaced). A resizable buffer and a view on
 * shared memory are a TypeError, as in the web-platform-tests. The returned view is not copied:
 * the socket copies it when the message is handed over, which happens in the
 * same turn.
 */
export function chunkToMessage(chunk: unknown): Message {
  if (typeof chunk === "string") return chunk.toWellFormed();
  // The common chunk goes out as it is: no view per message. Not a subclass
  // such as node:buffer's Buffer, whose slice() shares its bytes where a
  // transport counts on a copy; and not an empty one, which may be a view
  // on a detached buffer (see below).
  if (
    chunk instanceof Uint8Array &&
    Object.getPrototypeOf(chunk) === Uint8Array.prototype &&
    chunk.byteLength !== 0
  ) {
    refuseUnsendableBuffer(chunk.buffer);
    return chunk;
  }
  // A detached buffer holds no bytes (WebIDL's copy of them is empty): its
  // length reads 0, where a view made on it, or a DataView's offset, throws.
  if (chunk instanceof ArrayBuffer) {
    refuseUnsendableBuffer(chunk);
    return chunk.byteLength === 0 ? new Uint8Array(0) : new Uint8Array(chunk);
  }
  if (ArrayBuffer.isView(chunk)) {
    const { buffer } = chunk;
    refuseUnsendableBuffer(buffer);
    return buffer.byteLength === 0
      ? new Uint8Array(0)
      : new Uint8Array(buffer, chunk.byteOffset, chunk.byteLength);
  }
  // A SharedArrayBuffer itself is no BufferSource: it is text, as in
  // Chromium (views on shared memory are refused above).
  try {
    return `${chunk}`.toWellFormed();
  } catch (cause) {
    throw new TypeError(
      "Cannot write to WebSocketStream: chunk cannot be converted to a string",
      { cause },
    );
  }
}

function refuseUnsendableBuffer(buffer: ArrayBufferLike): void {
  if (
    typeof SharedArrayBuffer === "function" &&
    buffer instanceof SharedArrayBuffer
  ) {
    throw new TypeError(
      "Cannot write to WebSocketStream: chunk is backed by a SharedArrayBuffer",
    );
  }
  if ((buffer as ArrayBuffer).resizable) {
    throw new TypeError(
      "Cannot write to WebSocketStream: chunk is backed by a resizable ArrayBuffer",
    );
  }
}

/** The size a message takes in the receive queue, in bytes. */
export function messageSize(message: Message): number {
  // A string's UTF-16 length: close to its memory cost, and no O(n) encoding
  // on the receive path.
  return typeof message === "string" ? message.length : message.byteLength;
}

/**
 * The length of `text` in UTF-8, as `TextEncoder` would encode it (a lone
 * surrogate becomes U+FFFD, 3 bytes), without encoding it: close reasons are
 * measured on every close, and text frames are sized before they are encoded.
 */
export function utf8ByteLength(text: string): number {
  // A hub writes one string to many sockets: the same string comes back
  // once per subscriber, and comparing it with the last one is O(1) when it
  // is the same string.
  if (text === lastMeasured.text) return lastMeasured.bytes;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (
      unit >= 0xd800 && unit <= 0xdbff &&
      (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  if (text.length <= MEASURED_TEXT_KEPT) lastMeasured = { text, bytes };
  return bytes;
}

/** The longest string `utf8ByteLength` keeps alive for its one-entry cache. */
const MEASURED_TEXT_KEPT = 16384;
let lastMeasured = { text: "", bytes: 0 };
