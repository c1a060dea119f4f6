/**
 * The frame reader fuzzed from plain bytes, in both roles: random messages
 * in random fragments with Pings and Pongs between them, random mask keys,
 * random splits across reads, then at most one violation (reserved bits or
 * opcodes, wrong masking, bad control frames, invalid UTF-8, impossible
 * lengths, bad Close frames) or a message past the limit. Each case must end
 * with exactly the events a small model of RFC 6455 predicts, the violation's
 * close code last: never a crash, a wrong code or a hang.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import type { Role } from "../src/close_code.ts";
import { FrameReader } from "../src/socket/frame_reader.ts";
import { concat } from "./_bytes.ts";
import { ChunkSource, readEvents, splitAt } from "./_byte_source.ts";

/** Cases per run, all roles together. */
const RUNS = 10_000;
const LIMIT = 1024;
const encoder = new TextEncoder();

/** How one frame goes on the wire; the defaults make a valid frame. */
interface FrameSpec {
  opcode: number;
  payload: Uint8Array;
  fin?: boolean;
  rsv?: number;
  /** Flip the masking the role requires. */
  wrongMask?: boolean;
  /** A length to announce instead of the payload's. */
  announced?: number;
}

function encode(role: Role, key: number, spec: FrameSpec): Uint8Array {
  const { opcode, payload, fin = true, rsv = 0 } = spec;
  const masked = (role === "server") !== (spec.wrongMask ?? false);
  const length = spec.announced ?? payload.byteLength;
  const head = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = new Uint8Array(head + (masked ? 4 : 0) + payload.byteLength);
  frame[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const maskBit = masked ? 0x80 : 0;
  const view = new DataView(frame.buffer);
  if (length < 126) frame[1] = maskBit | length;
  else if (length < 65536) {
    frame[1] = maskBit | 126;
    view.setUint16(2, length);
  } else {
    frame[1] = maskBit | 127;
    view.setBigUint64(2, BigInt(length));
  }
  const start = head + (masked ? 4 : 0);
  frame.set(payload, start);
  if (masked) {
    view.setUint32(head, key);
    for (let i = 0; i < payload.byteLength; i++) {
      frame[start + i]! ^= frame[head + (i & 3)]!;
    }
  }
  return frame;
}

/** What the reader must report. */
type Expected =
  | { type: "message"; message: string | Uint8Array }
  | { type: "ping" | "pong"; payload: Uint8Array }
  | { type: "overflow" }
  | { type: "close"; closeCode: number; reason: string }
  | { type: "end" }
  | { type: "error"; closeCode: number };

/** A stretch of the stream: its frames and the events they must give. */
interface Piece {
  frames: FrameSpec[];
  expected: Expected[];
}

const bytes = (max: number) => fc.uint8Array({ maxLength: max });

/** A Ping or Pong, alone or between fragments. */
const control = fc.tuple(fc.constantFrom(0x9, 0xa), bytes(125)).map((
  [opcode, payload],
): Piece => ({
  frames: [{ opcode, payload }],
  expected: [{ type: opcode === 0x9 ? "ping" : "pong", payload }],
}));

/** Splits `payload` into fragments with controls between them. */
function fragment(
  opcode: number,
  payload: Uint8Array,
  cuts: number[],
  between: Piece[],
): Piece {
  const bounds = [...new Set(cuts.map((cut) => cut % (payload.length + 1)))]
    .sort((a, b) => a - b);
  const parts = splitAt(payload, bounds);
  if (parts.length === 0) parts.push(new Uint8Array(0));
  const frames: FrameSpec[] = [];
  const expected: Expected[] = [];
  parts.forEach((part, i) => {
    frames.push({
      opcode: i === 0 ? opcode : 0,
      payload: part,
      fin: i === parts.length - 1,
    });
    const extra = i < parts.length - 1 ? between[i] : undefined;
    if (extra !== undefined) {
      frames.push(...extra.frames);
      expected.push(...extra.expected);
    }
  });
  return { frames, expected };
}

/** A text or binary message, possibly fragmented, possibly past the limit. */
const message = fc.tuple(
  fc.oneof(
    fc.string({ unit: "binary", maxLength: 700 }).map((text) => ({
      opcode: 1,
      payload: encoder.encode(text),
      message: text as string | Uint8Array,
    })),
    bytes(1500).map((payload) => ({ opcode: 2, payload, message: payload })),
  ),
  fc.array(fc.nat(), { maxLength: 4 }),
  fc.array(control, { maxLength: 3 }),
).map(([{ opcode, payload, message }, cuts, between]): Piece => {
  const piece = fragment(opcode, payload, cuts, between);
  if (payload.byteLength > LIMIT) return overflowing(piece);
  piece.expected.push({ type: "message", message });
  return piece;
});

/**
 * The events of a message past the limit: the controls before the frame
 * that crosses it, the overflow, then the controls after it (the rest of the
 * message is skipped).
 */
function overflowing(piece: Piece): Piece {
  const expected: Expected[] = [];
  let bytesSoFar = 0;
  let reported = false;
  let controlIndex = 0;
  for (const frame of piece.frames) {
    if (frame.opcode >= 0x8) {
      expected.push(piece.expected[controlIndex++]!);
      continue;
    }
    bytesSoFar += frame.payload.byteLength;
    if (!reported && bytesSoFar > LIMIT) {
      expected.push({ type: "overflow" });
      reported = true;
    }
  }
  return { frames: piece.frames, expected };
}

/** One violation and the close code it must fail with. */
const violation: fc.Arbitrary<Piece> = fc.oneof(
  fc.integer({ min: 1, max: 7 }).map((rsv) =>
    fail({
      opcode: 2,
      payload: new Uint8Array(1),
      rsv,
    }, 1002)
  ),
  fc.constantFrom(3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf).map((opcode) =>
    fail({ opcode, payload: new Uint8Array(1) }, 1002)
  ),
  fc.constantFrom(1, 2, 8, 9).map((opcode) =>
    fail({ opcode, payload: new Uint8Array(0), wrongMask: true }, 1002)
  ),
  fc.integer({ min: 126, max: 300 }).map((length) =>
    fail({ opcode: 0x9, payload: new Uint8Array(length) }, 1002)
  ),
  fc.constant(
    fail({ opcode: 0x9, payload: new Uint8Array(0), fin: false }, 1002),
  ),
  fc.constant(fail({ opcode: 0, payload: new Uint8Array(1) }, 1002)),
  fc.constant(
    {
      frames: [
        { opcode: 1, payload: encoder.encode("a"), fin: false },
        { opcode: 2, payload: new Uint8Array(1) },
      ],
      expected: [{ type: "error", closeCode: 1002 }],
    } satisfies Piece,
  ),
  // Invalid UTF-8 anywhere in a fragmented text message fails at its frame.
  fc.tuple(
    fc.string({ maxLength: 40 }),
    fc.constantFrom([0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88]),
    fc.array(fc.nat(), { maxLength: 3 }),
  ).map(([text, bad, cuts]) => {
    const good = encoder.encode(text);
    const payload = concat([good, Uint8Array.from(bad), good]);
    const piece = fragment(1, payload, cuts, []);
    return {
      frames: piece.frames,
      expected: [{ type: "error", closeCode: 1007 }],
    } satisfies Piece;
  }),
  // Announced lengths travel as numbers: each bound is the double nearest
  // below the limit, so that no length rounds across it.
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 63n - 1024n }).map((length) =>
    fail(
      { opcode: 2, payload: new Uint8Array(0), announced: Number(length) },
      1009,
    )
  ),
  // RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
  fc.bigInt({ min: 2n ** 63n, max: 2n ** 64n - 2048n }).map((length) =>
    fail(
      { opcode: 2, payload: new Uint8Array(0), announced: Number(length) },
      1002,
    )
  ),
  fc.constantFrom(
    Uint8Array.of(0x03),
    Uint8Array.of(0x03, 0xed),
    Uint8Array.of(0x03, 0xee),
    Uint8Array.of(0x03, 0xe7),
    Uint8Array.of(0x0b, 0xb8 - 1),
    Uint8Array.of(0x13, 0x88),
  ).map((payload) => fail({ opcode: 0x8, payload }, 1002)),
  fc.constant(fail({
    opcode: 0x8,
    payload: Uint8Array.of(0x03, 0xe8, 0xff),
  }, 1007)),
);

function fail(frame: FrameSpec, closeCode: number): Piece {
  return { frames: [frame], expected: [{ type: "error", closeCode }] };
}

/** How the stream ends after its valid pieces. */
const ending: fc.Arbitrary<Piece> = fc.oneof(
  violation,
  fc.tuple(fc.integer({ min: 1000, max: 1003 }), fc.string({ maxLength: 20 }))
    .map(([closeCode, reason]) => ({
      frames: [{
        opcode: 0x8,
        payload: concat([
          Uint8Array.of(closeCode >> 8, closeCode & 0xff),
          encoder.encode(reason),
        ]),
      }],
      expected: [{ type: "close", closeCode, reason }],
    } satisfies Piece)),
  fc.constant({ frames: [], expected: [{ type: "end" }] } satisfies Piece),
  // A frame announcing far more than the limit, cut off: skipped, then the end.
  fc.integer({ min: LIMIT + 1, max: 2 ** 40 }).map((announced) => ({
    frames: [{ opcode: 2, payload: new Uint8Array(10), announced }],
    expected: [{ type: "overflow" }, { type: "end" }],
  } satisfies Piece)),
);

Deno.test(`fuzz: the frame reader ends every stream with the events and close code RFC 6455 gives, its chunks copied or handed over, in ${RUNS} cases`, async () => {
  let cases = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom<Role>("client", "server"),
      fc.array(fc.oneof(message, control), { maxLength: 6 }),
      ending,
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.boolean(),
      async (role, pieces, end, cuts, key, handOver) => {
        cases++;
        const all = [...pieces, end];
        const stream = concat(
          all.flatMap((piece) => piece.frames.map((f) => encode(role, key, f))),
        );
        const bounds = [
          ...new Set(cuts.map((cut) => cut % (stream.length + 1))),
        ]
          .sort((a, b) => a - b);
        const reader = new FrameReader(
          new ChunkSource(splitAt(stream, bounds), handOver),
          { role, messageLimit: LIMIT },
        );
        const read = await readEvents(reader);
        // Each binary message owns all of its memory, as on every transport.
        for (const event of read) {
          if (event.type === "message" && typeof event.message !== "string") {
            assert.equal(event.message.byteOffset, 0);
            assert.equal(event.message.buffer.byteLength, event.message.length);
          }
        }
        // The model does not say what the failure messages read.
        const events = read.map((event): Expected =>
          event.type === "error"
            ? { type: "error", closeCode: event.closeCode }
            : event.type === "end"
            ? { type: "end" }
            : event
        );
        assert.deepEqual(events, all.flatMap((piece) => piece.expected));
      },
    ),
    { numRuns: RUNS },
  );
  assert.equal(cases, RUNS);
});
