/**
 * RFC 6455 frames: encoding the frames a client sends (always masked) and
 * reading the header of the frames a server sends (never masked).
 *
 * @module
 */

import { type Message, utf8ByteLength } from "./message.ts";

/** The frame opcodes of RFC 6455, section 5.2. */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** The longest payload a control frame (Close, Ping, Pong) may carry. */
export const MAX_CONTROL_PAYLOAD = 125;

/** The longest frame header: 2 bytes, 8 of extended length, 4 of mask key. */
export const MAX_HEADER_BYTES = 14;

const encoder = new TextEncoder();

// Mask keys must be unpredictable (RFC 6455, section 10.3). Asking the
// runtime for 4 random bytes per frame costs more than masking a small
// message, so keys are drawn from a pool refilled 4 KiB at a time.
const maskKeys = new Uint32Array(1024);
let nextMaskKey = maskKeys.length;

function takeMaskKey(): number {
  if (nextMaskKey === maskKeys.length) {
    crypto.getRandomValues(maskKeys);
    nextMaskKey = 0;
  }
  return maskKeys[nextMaskKey++]!;
}

/**
 * Encodes `payload` as one masked, final frame, the way a client must send
 * it. The payload is copied, so the caller may reuse its buffer.
 */
export function encodeClientFrame(
  opcode: number,
  payload: Message,
): Uint8Array {
  const length = typeof payload === "string"
    ? utf8ByteLength(payload)
    : payload.byteLength;
  const headerBytes = length < 126 ? 6 : length < 65536 ? 8 : 14;
  // Put the payload on a 4-byte boundary so that it can be masked a word at a
  // time.
  const padding = (4 - (headerBytes % 4)) % 4;
  const buffer = new ArrayBuffer(padding + headerBytes + length);
  const frame = new Uint8Array(buffer, padding);
  frame[0] = 0x80 | opcode;
  const view = new DataView(buffer, padding);
  if (length < 126) {
    frame[1] = 0x80 | length;
  } else if (length < 65536) {
    frame[1] = 0x80 | 126;
    view.setUint16(2, length);
  } else {
    frame[1] = 0x80 | 127;
    view.setUint32(2, Math.floor(length / 2 ** 32));
    view.setUint32(6, length >>> 0);
  }
  const key = takeMaskKey();
  // Little-endian, so that byte i of the key is byte i of the word below.
  view.setUint32(headerBytes - 4, key, true);
  const body = frame.subarray(headerBytes);
  if (typeof payload === "string") encoder.encodeInto(payload, body);
  else body.set(payload);
  applyMask(body, key);
  return frame;
}

/**
 * XORs `bytes`, which start on a 4-byte boundary, with the little-endian
 * mask key `key`.
 */
function applyMask(bytes: Uint8Array, key: number): void {
  const words = bytes.byteLength >>> 2;
  if (words > 0) {
    const view = new Uint32Array(bytes.buffer, bytes.byteOffset, words);
    // Little-endian platforms only: everywhere Deno runs today.
    for (let i = 0; i < words; i++) view[i]! ^= key;
  }
  for (let i = words << 2; i < bytes.byteLength; i++) {
    bytes[i]! ^= (key >>> ((i & 3) << 3)) & 0xff;
  }
}

/** A frame header read off the wire. */
export interface FrameHeader {
  fin: boolean;
  opcode: number;
  /** The payload length in bytes. */
  length: number;
  /** The bytes the header itself took. */
  headerBytes: number;
}

/**
 * Reads the header of a server's frame from `bytes`, returning `undefined`
 * when more bytes are needed, or a string saying why the frame breaks the
 * protocol.
 */
export function readServerFrameHeader(
  bytes: Uint8Array,
  start: number,
  end: number,
): FrameHeader | string | undefined {
  if (end - start < 2) return undefined;
  const first = bytes[start]!;
  const second = bytes[start + 1]!;
  if ((first & 0x70) !== 0) {
    return "the server set reserved bits no extension was negotiated for";
  }
  if ((second & 0x80) !== 0) return "the server sent a masked frame";
  const opcode = first & 0x0f;
  const fin = (first & 0x80) !== 0;
  let length = second & 0x7f;
  let headerBytes = 2;
  if (length === 126) {
    if (end - start < 4) return undefined;
    length = (bytes[start + 2]! << 8) | bytes[start + 3]!;
    headerBytes = 4;
  } else if (length === 127) {
    if (end - start < 10) return undefined;
    const view = new DataView(bytes.buffer, bytes.byteOffset + start + 2, 8);
    const high = view.getUint32(0);
    if (high >= 2 ** 21) {
      return "the server sent a frame longer than 2^53 bytes";
    }
    length = high * 2 ** 32 + view.getUint32(4);
    headerBytes = 10;
  }
  if (opcode >= Opcode.Close) {
    if (opcode > Opcode.Pong) {
      return `the server sent reserved opcode ${opcode}`;
    }
    if (!fin) return "the server sent a fragmented control frame";
    if (length > MAX_CONTROL_PAYLOAD) {
      return `the server sent a control frame of ${length} bytes (at most ${MAX_CONTROL_PAYLOAD} allowed)`;
    }
  } else if (opcode > Opcode.Binary) {
    return `the server sent reserved opcode ${opcode}`;
  }
  return { fin, opcode, length, headerBytes };
}

/**
 * Builds the payload of a Close frame: the code, then the reason in UTF-8.
 * Without a code the payload is empty.
 */
export function closePayload(
  closeCode: number | undefined,
  reason: string,
): Uint8Array {
  if (closeCode === undefined) return new Uint8Array(0);
  const reasonBytes = encoder.encode(reason);
  const payload = new Uint8Array(2 + reasonBytes.byteLength);
  payload[0] = closeCode >>> 8;
  payload[1] = closeCode & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}
