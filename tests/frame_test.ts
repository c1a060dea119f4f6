/**
 * The client frame encoder against a byte-at-a-time reading of RFC 6455,
 * section 5.2: every header length form, text and binary, and payloads
 * starting at every alignment (masking goes a word at a time).
 */

import assert from "node:assert/strict";
import {
  clientFrameSize,
  payloadLength,
  writeClientFrame,
} from "../src/frame.ts";

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
      assert.deepEqual(
        { fin: frame.fin, opcode: frame.opcode, masked: frame.masked },
        { fin: true, opcode: 0x2, masked: true },
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
