/**
 * Frames against a byte-at-a-time reading of RFC 6455, section 5.2: the
 * client encoder with every header length form, text and binary, payloads
 * starting at every alignment (masking goes a word at a time); the server
 * header reader with headers split anywhere.
 */

import assert from "node:assert/strict";
import {
  frameSize,
  parseFrameHeader,
  payloadLength,
  writeFrame,
} from "../src/socket/frame.ts";
import { ProtocolError } from "../src/socket/protocol_error.ts";

const clientFrameSize = (length: number) => frameSize(length, true);
const writeClientFrame = (
  target: Uint8Array,
  offset: number,
  opcode: number,
  payload: string | Uint8Array,
  length: number,
) => writeFrame(target, offset, opcode, payload, length, true);
const readServerFrameHeader = (
  bytes: Uint8Array,
  start: number,
  end: number,
) => parseFrameHeader(bytes, start, end, "client");

/** The message of the ProtocolError that parsing `bytes` throws. */
function headerError(bytes: Uint8Array): string {
  return headerFailure(bytes).message;
}

/** The ProtocolError a server's frame reader throws for the header `bytes`. */
function headerFailure(bytes: Uint8Array): ProtocolError {
  try {
    readServerFrameHeader(bytes, 0, bytes.length);
  } catch (error) {
    assert.ok(error instanceof ProtocolError);
    return error;
  }
  throw new Error("no ProtocolError");
}

/** Decodes one masked frame the slow, obvious way. */
function readMaskedFrame(bytes: Uint8Array) {
  let length = bytes[1]! & 0x7f;
  let at = 2;
  if (length === 126) {
    length = (bytes[2]! << 8) | bytes[3]!;
    at = 4;
  } else if (length === 127) {
    length = 0;
    for (let i = 2; i < 10; i++) length = length * 256 + bytes[i]!;
    at = 10;
  }
  const key = bytes.subarray(at, at + 4);
  const payload = bytes.slice(at + 4, at + 4 + length);
  for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i % 4]!;
  return {
    fin: (bytes[0]! & 0x80) !== 0,
    opcode: bytes[0]! & 0x0f,
    masked: (bytes[1]! & 0x80) !== 0,
    payload,
    end: at + 4 + length,
  };
}

Deno.test("client frames: every length form, at every alignment, unmask to the payload", () => {
  const lengths = [
    0,
    1,
    3,
    15,
    16,
    17,
    125,
    126,
    127,
    1000,
    65535,
    65536,
    70001,
  ];
  for (const length of lengths) {
    const payload = crypto.getRandomValues(
      new Uint8Array(Math.min(length, 65536)),
    );
    const full = length > 65536
      ? new Uint8Array(length).map((_, i) => i * 31)
      : payload;
    for (let offset = 0; offset < 4; offset++) {
      const target = new Uint8Array(offset + clientFrameSize(length) + 3);
      const end = writeClientFrame(target, offset, 0x2, full, length);
      assert.equal(end, offset + clientFrameSize(length));
      const frame = readMaskedFrame(target.subarray(offset));
      // The length first: a wrong one would make the payload diff huge.
      assert.deepEqual(
        {
          fin: frame.fin,
          opcode: frame.opcode,
          masked: frame.masked,
          length: frame.payload.length,
        },
        { fin: true, opcode: 0x2, masked: true, length },
      );
      assert.deepEqual(frame.payload, full, `length ${length} at +${offset}`);
      assert.equal(offset + frame.end, end);
    }
  }
});

Deno.test("client frames: text is encoded as UTF-8 with its byte length in the header", () => {
  for (const text of ["", "a", "héllo", "🦕".repeat(40), "ü".repeat(33_000)]) {
    const length = payloadLength(text);
    const target = new Uint8Array(clientFrameSize(length) + 1);
    writeClientFrame(target, 1, 0x1, text, length);
    const frame = readMaskedFrame(target.subarray(1));
    assert.equal(frame.opcode, 0x1);
    assert.equal(new TextDecoder().decode(frame.payload), text);
  }
});

Deno.test("server frame headers: a header split anywhere asks for more, whole it reads every length form", () => {
  const cases: [Uint8Array, number, number][] = [
    [new Uint8Array([0x81, 0x05]), 5, 2],
    [new Uint8Array([0x82, 0x7e, 0x01, 0x00]), 256, 4],
    [new Uint8Array([0x02, 0x7f, 0, 0, 0, 1, 0, 0, 0, 0]), 2 ** 32, 10],
    [
      new Uint8Array([0x82, 0x7f, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
      2 ** 53 - 1,
      10,
    ],
  ];
  for (const [bytes, length, headerBytes] of cases) {
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    for (let end = 3; end < padded.length; end++) {
      assert.equal(readServerFrameHeader(padded, 3, end), undefined);
    }
    const header = readServerFrameHeader(padded, 3, padded.length);
    assert.ok(typeof header === "object");
    assert.deepEqual(
      { length: header.length, headerBytes: header.headerBytes },
      { length, headerBytes },
    );
    assert.equal(header.fin, (bytes[0]! & 0x80) !== 0);
  }
});

Deno.test("server frame headers: lengths past 2^53 and long control frames break the protocol", () => {
  const tooLong = new Uint8Array([0x82, 0x7f, 0, 0x20, 0, 0, 0, 0, 0, 0]);
  assert.match(headerError(tooLong), /longer than 2\^53/);
  assert.equal(headerFailure(tooLong).closeCode, 1009);
  // RFC 6455 §5.2: a 64-bit length's most significant bit must be 0.
  const topBit = new Uint8Array([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(
    {
      closeCode: headerFailure(topBit).closeCode,
      message: headerError(topBit),
    },
    {
      closeCode: 1002,
      message:
        "the server sent a 64-bit frame length with its most significant bit set",
    },
  );
  const longPing = new Uint8Array([0x89, 0x7e, 0x00, 0x7e]);
  assert.match(headerError(longPing), /control frame of 126 bytes/);
  // Extended length for a short control payload is wasteful, not invalid.
  const wastefulPing = new Uint8Array([0x89, 0x7e, 0x00, 0x05]);
  const header = readServerFrameHeader(wastefulPing, 0, 4);
  assert.ok(typeof header === "object" && header.length === 5);
});
