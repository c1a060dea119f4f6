/**
 * RFC 6455 frames for both roles: encoding a frame (masked when a client
 * sends it, plain when a server does) and parsing the header of a frame the
 * peer sent (masked from a client, never from a server).
 *
 * @module
 */

import type { Role } from "../close_code.ts";
import { type Message, utf8ByteLength } from "../message.ts";
import { ProtocolError } from "./protocol_error.ts";

/** The frame opcodes of RFC 6455, section 5.2. */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/**
 * The first reserved bit: set on the first frame of a message that
 * permessage-deflate compressed (RFC 7692, section 6). Passed to
 * {@linkcode writeFrame} along with the opcode.
 */
export const RSV1 = 0x40;

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

/** The payload length of `payload` on the wire. */
export function payloadLength(payload: Message): number {
  return typeof payload === "string"
    ? utf8ByteLength(payload)
    : payload.byteLength;
}

/**
 * The bytes a frame with a `length`-byte payload takes: with `masked` (a
 * client's frame) 4 more for the mask key.
 */
export function frameSize(length: number, masked: boolean): number {
  return headerSize(length, masked) + length;
}

function headerSize(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes `payload` as one final frame into `target` at `offset`, masked when
 * `masked` is set (as a client must send it), and returns the offset after
 * it. `length` is {@linkcode payloadLength}`(payload)`; `target` must have
 * room for {@linkcode frameSize}`(length, masked)` bytes. `opcode` may carry
 * {@linkcode RSV1}.
 */
export function writeFrame(
  target: Uint8Array,
  offset: number,
  opcode: number,
  payload: Message,
  length: number,
  masked: boolean,
): number {
  const headerBytes = headerSize(length, masked);
  const maskBit = masked ? 0x80 : 0;
  target[offset] = 0x80 | opcode;
  if (length < 126) {
    target[offset + 1] = maskBit | length;
  } else if (length < 65536) {
    target[offset + 1] = maskBit | 126;
    target[offset + 2] = length >>> 8;
    target[offset + 3] = length & 0xff;
  } else {
    target[offset + 1] = maskBit | 127;
    writeUint32(target, offset + 2, Math.floor(length / 2 ** 32));
    writeUint32(target, offset + 6, length >>> 0);
  }
  const start = offset + headerBytes;
  if (!masked) {
    if (typeof payload === "string") {
      encoder.encodeInto(payload, target.subarray(start, start + length));
    } else {
      target.set(payload, start);
    }
    return start + length;
  }
  const key = takeMaskKey();
  // Byte i of the key is byte i of the little-endian word.
  const keyAt = offset + headerBytes - 4;
  target[keyAt] = key & 0xff;
  target[keyAt + 1] = (key >>> 8) & 0xff;
  target[keyAt + 2] = (key >>> 16) & 0xff;
  target[keyAt + 3] = key >>> 24;
  if (typeof payload === "string") {
    encoder.encodeInto(payload, target.subarray(start, start + length));
  } else {
    target.set(payload, start);
  }
  applyMask(target, start, length, key);
  return start + length;
}

/**
 * XORs `length` bytes of `bytes` from `start` with the little-endian mask key
 * `key`, eight bytes at a time where the memory is aligned. Masking twice
 * with the same key unmasks.
 */
export function applyMask(
  bytes: Uint8Array,
  start: number,
  length: number,
  key: number,
): void {
  let i = 0;
  if (length >= 16) {
    // Bytes up to an 8-byte boundary, then 64-bit words of the key twice
    // over, turned to match. V8 compiles 64-bit BigInt arithmetic that is
    // truncated at once to machine words, which mask twice as fast as 32-bit
    // ones. Little-endian platforms only: everywhere Deno runs today.
    const lead = (8 - ((bytes.byteOffset + start) & 7)) & 7;
    for (; i < lead; i++) bytes[start + i]! ^= (key >>> ((i & 3) << 3)) & 0xff;
    const turnBits = (lead & 3) << 3;
    const turned = turnBits === 0
      ? key >>> 0
      : ((key >>> turnBits) | (key << (32 - turnBits))) >>> 0;
    const wideKey = BigInt.asIntN(64, BigInt(turned) * 0x100000001n);
    const words = (length - lead) >>> 3;
    const view = new BigInt64Array(
      bytes.buffer,
      bytes.byteOffset + start + lead,
      words,
    );
    for (let word = 0; word < words; word++) {
      view[word] = BigInt.asIntN(64, view[word]! ^ wideKey);
    }
    i = lead + (words << 3);
  }
  for (; i < length; i++) bytes[start + i]! ^= (key >>> ((i & 3) << 3)) & 0xff;
}

// Big-endian words of the 64-bit length, byte by byte: a DataView per frame
// costs more than the rest of the header.
function writeUint32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) |
    bytes[at + 3]!) >>> 0;
}

/** A frame header read off the wire. */
export interface FrameHeader {
  fin: boolean;
  opcode: number;
  /** The payload length in bytes. */
  length: number;
  /** The bytes the header itself took, mask key included. */
  headerBytes: number;
  /** The little-endian mask key of a masked frame; 0 for an unmasked one. */
  maskKey: number;
  /** RSV1 is set: the first frame of a compressed message. */
  compressed: boolean;
}

/** What the peer of `role` is called in failure messages. */
export function peerName(role: Role): string {
  return role === "client" ? "the server" : "the client";
}

/**
 * Parses the header of a frame the peer of `role` sent, from `bytes[start,
 * end)`: `undefined` while more bytes are needed. A header that breaks the
 * protocol throws a {@linkcode ProtocolError}: a server's frames must not be
 * masked, a client's must be (RFC 6455, section 5.1). With `compression`
 * (permessage-deflate was negotiated) RSV1 may mark a message's first frame.
 */
export function parseFrameHeader(
  bytes: Uint8Array,
  start: number,
  end: number,
  role: Role,
  compression = false,
): FrameHeader | undefined {
  if (end - start < 2) return undefined;
  const first = bytes[start]!;
  const second = bytes[start + 1]!;
  const reserved = first & 0x70;
  if (reserved !== 0 && (reserved !== RSV1 || !compression)) {
    throw new ProtocolError(
      1002,
      `${peerName(role)} set reserved bits no extension was negotiated for`,
    );
  }
  const masked = (second & 0x80) !== 0;
  if (masked !== (role === "server")) {
    throw new ProtocolError(
      1002,
      masked
        ? "the server sent a masked frame"
        : "the client sent an unmasked frame",
    );
  }
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
    const high = readUint32(bytes, start + 2);
    // RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
    if (high >= 2 ** 31) {
      throw new ProtocolError(
        1002,
        `${
          peerName(role)
        } sent a 64-bit frame length with its most significant bit set`,
      );
    }
    if (high >= 2 ** 21) {
      throw new ProtocolError(
        1009,
        `${peerName(role)} sent a frame longer than 2^53 bytes`,
      );
    }
    length = high * 2 ** 32 + readUint32(bytes, start + 6);
    headerBytes = 10;
  }
  if (opcode >= Opcode.Close) {
    if (opcode > Opcode.Pong) {
      throw new ProtocolError(
        1002,
        `${peerName(role)} sent reserved opcode ${opcode}`,
      );
    }
    if (!fin) {
      throw new ProtocolError(
        1002,
        `${peerName(role)} sent a fragmented control frame`,
      );
    }
    if (length > MAX_CONTROL_PAYLOAD) {
      throw new ProtocolError(
        1002,
        `${
          peerName(role)
        } sent a control frame of ${length} bytes (at most ${MAX_CONTROL_PAYLOAD} allowed)`,
      );
    }
  } else if (opcode > Opcode.Binary) {
    throw new ProtocolError(
      1002,
      `${peerName(role)} sent reserved opcode ${opcode}`,
    );
  }
  const compressed = reserved === RSV1;
  if (
    compressed && (opcode === Opcode.Continuation || opcode >= Opcode.Close)
  ) {
    throw new ProtocolError(
      1002,
      `${peerName(role)} set RSV1 on a ${
        opcode === Opcode.Continuation ? "continuation" : "control"
      } frame`,
    );
  }
  let maskKey = 0;
  if (masked) {
    if (end - start < headerBytes + 4) return undefined;
    const at = start + headerBytes;
    maskKey = (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) |
      (bytes[at + 3]! << 24)) >>> 0;
    headerBytes += 4;
  }
  return { fin, opcode, length, headerBytes, maskKey, compressed };
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

/**
 * The chunks as one array of bytes. A single chunk is returned as it is
 * unless `copy` is set: zlib's chunks are views into buffers it allocated
 * for many, and a message must not keep those alive.
 */
export function joinChunks(chunks: Uint8Array[], copy = false): Uint8Array {
  if (chunks.length === 1 && !copy) return chunks[0]!;
  let bytes = 0;
  for (const chunk of chunks) bytes += chunk.byteLength;
  const joined = new Uint8Array(bytes);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined;
}
