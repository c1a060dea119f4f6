/**
 * The frame reader from plain byte arrays, without TCP: headers split across
 * reads, several frames in one read, payloads longer than the read buffer,
 * both roles' masking rules, one Pong per Ping, UTF-8 checked frame by
 * frame, and the message limit on payload bytes.
 */

import assert from "node:assert/strict";
import type { Role } from "../src/close_code.ts";
import { type FrameEvent, FrameReader } from "../src/socket/frame_reader.ts";
import { DeflateCodec } from "../src/socket/permessage_deflate_codec.ts";
import { ProtocolError } from "../src/socket/protocol_error.ts";
import { concat, MiB } from "./_bytes.ts";
import {
  ChunkSource,
  type Failure,
  readEvents,
  splitAt,
} from "./_byte_source.ts";
import { closePayload, encodeFrame, Opcode } from "./_raw_server.ts";

const MASK = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

/** A frame as the peer of `role` sends it: masked to a server. */
function frame(
  role: Role,
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  fin = true,
): Uint8Array {
  return encodeFrame(
    opcode,
    payload,
    role === "server" ? { fin, mask: MASK } : { fin },
  );
}

/** Every event the reader reports from `chunks`. */
function readAll(
  chunks: Uint8Array[],
  role: Role,
  messageLimit = 16 * MiB,
): Promise<(FrameEvent | Failure)[]> {
  return readEvents(
    new FrameReader(new ChunkSource(chunks), { role, messageLimit }),
  );
}

const roles: Role[] = ["client", "server"];

for (const role of roles) {
  Deno.test(`frame reader (${role}): a header split at every byte, several frames in one read`, async () => {
    const bytes = concat([
      frame(role, Opcode.text, "héllo"),
      frame(role, Opcode.binary, new Uint8Array(300).fill(9)),
      frame(role, Opcode.ping, "p"),
      frame(role, Opcode.close, closePayload(1000, "done")),
    ]);
    const expected = [
      { type: "message", message: "héllo" },
      { type: "message", message: new Uint8Array(300).fill(9) },
      { type: "ping", payload: new TextEncoder().encode("p") },
      { type: "close", closeCode: 1000, reason: "done" },
    ];
    assert.deepEqual(await readAll([bytes], role), expected);
    for (let cut = 1; cut < bytes.length; cut++) {
      assert.deepEqual(
        await readAll(splitAt(bytes, [cut]), role),
        expected,
        `cut at ${cut}`,
      );
    }
    const byteByByte = Array.from(bytes, (byte) => Uint8Array.of(byte));
    assert.deepEqual(await readAll(byteByByte, role), expected);
  });

  Deno.test(`frame reader (${role}): payloads longer than the read buffer arrive whole, in any split`, async () => {
    const big = new Uint8Array(3 * MiB).map((_, i) => i * 13);
    const bytes = concat([
      frame(role, Opcode.binary, big),
      frame(role, Opcode.text, "after"),
    ]);
    for (const cuts of [[], [5], [70_000, 1_000_000], [bytes.length - 3]]) {
      const events = await readAll(splitAt(bytes, cuts), role);
      assert.equal(events.length, 3, `cuts ${cuts}`);
      assert.deepEqual(events[0], { type: "message", message: big });
      assert.deepEqual(events[1], { type: "message", message: "after" });
      assert.equal(events[2]!.type, "end");
    }
  });

  Deno.test(`frame reader (${role}): ten Pings back to back are ten ping events, in order`, async () => {
    const payloads = Array.from({ length: 10 }, (_, i) => `${i}`);
    const events = await readAll(
      [concat(payloads.map((p) => frame(role, Opcode.ping, p)))],
      role,
    );
    assert.deepEqual(
      events.slice(0, 10),
      payloads.map((p) => ({
        type: "ping",
        payload: new TextEncoder().encode(p),
      })),
    );
  });

  Deno.test(`frame reader (${role}): invalid UTF-8 in a fragmented text message fails with 1007 at the frame that carries it`, async () => {
    const source = new ChunkSource([
      frame(role, Opcode.text, "ok ", false),
      frame(role, Opcode.continuation, new Uint8Array([0xff]), false),
    ]);
    const reader = new FrameReader(source, {
      role,
      messageLimit: 1 * MiB,
    });
    // No more frames follow: a reader that waited for the message's end
    // would report the end of the connection instead.
    let error: unknown;
    try {
      await reader.next();
    } catch (thrown) {
      error = thrown;
    }
    assert.ok(error instanceof ProtocolError, `${error}`);
    assert.equal(error.closeCode, 1007);
  });

  Deno.test(`frame reader (${role}): a character split across fragments is joined; one left incomplete at the end fails with 1007`, async () => {
    const euro = new Uint8Array([0xe2, 0x82, 0xac]);
    const events = await readAll([
      frame(role, Opcode.text, euro.subarray(0, 1), false),
      frame(role, Opcode.ping, "between"),
      frame(role, Opcode.continuation, euro.subarray(1), true),
    ], role);
    assert.equal(events[0]!.type, "ping");
    assert.deepEqual(events[1], { type: "message", message: "€" });
    const incomplete = await readAll([
      frame(role, Opcode.text, euro.subarray(0, 1), false),
      frame(role, Opcode.continuation, euro.subarray(1, 2), true),
    ], role);
    assert.equal(incomplete[0]!.type, "error");
    assert.equal((incomplete[0] as Failure).closeCode, 1007);
  });

  Deno.test(`frame reader (${role}): a message of exactly the limit is delivered, one byte more overflows`, async () => {
    const limit = 100_000;
    for (const fragments of [1, 4]) {
      const exact = new Uint8Array(limit).fill(1);
      const step = limit / fragments;
      const frames = Array.from({ length: fragments }, (_, i) =>
        frame(
          role,
          i === 0 ? Opcode.binary : Opcode.continuation,
          exact.subarray(i * step, (i + 1) * step),
          i === fragments - 1,
        ));
      const events = await readAll(frames, role, limit);
      assert.deepEqual(events[0], { type: "message", message: exact });
      const over = await readAll(
        [frame(role, Opcode.binary, new Uint8Array(limit + 1))],
        role,
        limit,
      );
      assert.equal(over[0]!.type, "overflow");
    }
  });

  Deno.test(`frame reader (${role}): a flood of empty fragments overflows instead of growing`, async () => {
    const empty = frame(role, Opcode.continuation, new Uint8Array(0), false);
    const events = await readAll(
      [
        frame(role, Opcode.binary, new Uint8Array(0), false),
        ...Array.from({ length: 2000 }, () => empty),
      ],
      role,
      64 * 1000,
    );
    assert.equal(events[0]!.type, "overflow");
  });

  Deno.test(`frame reader (${role}): a message sent a byte a frame holds about its bytes, not an array a frame`, async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    assert.ok(gc !== undefined, "run with --v8-flags=--expose-gc");
    const limit = 16 * MiB;
    // As many frames as the limit lets in; the last never comes, so the
    // reader still holds them all when the bytes end.
    const count = limit / 64;
    const first = frame(role, Opcode.binary, "a", false);
    const next = frame(role, Opcode.continuation, "b", false);
    const bytes = new Uint8Array(
      first.byteLength + (count - 1) * next.byteLength,
    );
    bytes.set(first);
    for (
      let at = first.byteLength;
      at < bytes.byteLength;
      at += next.byteLength
    ) {
      bytes.set(next, at);
    }
    const reader = new FrameReader(new ChunkSource([bytes]), {
      role,
      messageLimit: limit,
    });
    gc();
    const before = Deno.memoryUsage();
    const event = await reader.next();
    gc();
    const after = Deno.memoryUsage();
    assert.equal(event.type, "end");
    const held = after.heapUsed + after.external - before.heapUsed -
      before.external;
    // An array a fragment held 52 MiB here for a message of 256 KiB.
    assert.ok(held < 4 * MiB, `${held} bytes held`);
    // Keeps the reader, and what it holds, alive past the measure.
    assert.equal(reader.discarding, false);
  });
}

Deno.test("frame reader: empty fragments of a compressed message are not inflated one by one", async () => {
  const parameters = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  const sender = new DeflateCodec(parameters, "client");
  const compressed = (await sender.compress(new TextEncoder().encode("hi")))!;
  sender.close();
  const first = frame("server", Opcode.text | 0x40, compressed, false);
  const empty = frame("server", Opcode.continuation, new Uint8Array(0), false);
  const last = frame("server", Opcode.continuation, new Uint8Array(0));
  const reader = new FrameReader(
    new ChunkSource([
      first,
      ...Array.from({ length: 1000 }, () => empty),
      last,
    ]),
    { role: "server", messageLimit: 16 * MiB },
  );
  const codec = new DeflateCodec(parameters, "server");
  let inflates = 0;
  const inflate = codec.inflate.bind(codec);
  codec.inflate = (...args) => {
    inflates++;
    return inflate(...args);
  };
  reader.compression = codec;
  const event = await reader.next();
  codec.close();
  assert.deepEqual(event, { type: "message", message: "hi" });
  // A zlib flush each made empty frames cost far more than they take to send.
  assert.equal(inflates, 2);
});

Deno.test("frame reader: a server refuses an unmasked frame, a client a masked one, with 1002", async () => {
  const unmasked = await readAll([frame("client", Opcode.text, "x")], "server");
  const masked = await readAll([frame("server", Opcode.text, "x")], "client");
  assert.deepEqual(unmasked[0], {
    type: "error",
    closeCode: 1002,
    message: "the client sent an unmasked frame",
  });
  assert.deepEqual(masked[0], {
    type: "error",
    closeCode: 1002,
    message: "the server sent a masked frame",
  });
});
