/**
 * Micro-benchmarks of the socket transport's framing, which runs once per
 * message it sends (encoding and masking) or receives (header parsing). Run
 * with `deno bench bench/micro/`.
 *
 * @module
 */

import {
  frameSize,
  Opcode,
  parseFrameHeader,
  payloadLength,
  writeFrame,
} from "../../src/socket/frame.ts";

const KIB = 1024;

/** Frames `payload` into a reused buffer, as the outgoing frame queue does. */
function benchEncode(
  name: string,
  opcode: number,
  payload: string | Uint8Array,
) {
  const length = payloadLength(payload);
  // One spare byte, so that frames are also written at an odd offset.
  const target = new Uint8Array(frameSize(length, true) + 1);
  Deno.bench(`writeFrame: ${name}, masked`, { group: "encode" }, () => {
    writeFrame(target, 0, opcode, payload, length, true);
  });
  Deno.bench(
    `writeFrame: ${name}, masked, unaligned`,
    { group: "encode" },
    () => {
      writeFrame(target, 1, opcode, payload, length, true);
    },
  );
  Deno.bench(`writeFrame: ${name}, unmasked`, { group: "encode" }, () => {
    writeFrame(target, 0, opcode, payload, length, false);
  });
}

benchEncode("64 B text", Opcode.Text, "x".repeat(64));
benchEncode("16 KiB binary", Opcode.Binary, new Uint8Array(16 * KIB));
benchEncode("64 KiB binary", Opcode.Binary, new Uint8Array(64 * KIB));

/** The header of an unmasked server frame with a `length`-byte payload. */
function serverHeader(length: number): Uint8Array {
  if (length < 126) return Uint8Array.of(0x82, length);
  if (length < 65536) {
    return Uint8Array.of(0x82, 126, length >>> 8, length & 0xff);
  }
  const header = new Uint8Array(10);
  header[0] = 0x82;
  header[1] = 127;
  new DataView(header.buffer).setUint32(6, length);
  return header;
}

const lengthForms: [string, number][] = [
  ["7-bit", 64],
  ["16-bit", 16 * KIB],
  ["64-bit", 64 * KIB],
];
for (const [name, length] of lengthForms) {
  const header = serverHeader(length);
  Deno.bench(
    `parseFrameHeader: ${name} length`,
    { group: "decode" },
    () => {
      parseFrameHeader(header, 0, header.length, "client");
    },
  );
}
