/**
 * The frame writer over a sink the test controls, without TCP: one Pong per
 * Ping in order, a bounded Pong backlog while the peer does not read, and
 * masked messages intact however the writer reuses its buffers.
 */

import assert from "node:assert/strict";
import { applyMask, Opcode, parseFrameHeader } from "../src/socket/frame.ts";
import { FrameWriter, MAX_QUEUED_PONGS } from "../src/socket/frame_writer.ts";
import { concat } from "./_bytes.ts";

/** A sink whose writes wait until the test lets them through. */
class StalledSink {
  readonly written: Uint8Array[] = [];
  #waiting: PromiseWithResolvers<void>[] = [];
  write(bytes: Uint8Array): Promise<void> {
    this.written.push(bytes.slice());
    const done = Promise.withResolvers<void>();
    this.#waiting.push(done);
    return done.promise;
  }
  /** Completes every write so far, and every one made from now on. */
  release(): void {
    for (const done of this.#waiting) done.resolve();
    this.#waiting = [];
    this.write = (bytes) => {
      this.written.push(bytes.slice());
      return Promise.resolve();
    };
  }
}

/** The payloads of the unmasked Pong frames in `bytes`, in order. */
function pongPayloads(bytes: Uint8Array): string[] {
  const payloads: string[] = [];
  for (let at = 0; at < bytes.length;) {
    assert.equal(bytes[at]! & 0x0f, 0xa, `a Pong at ${at}`);
    const length = bytes[at + 1]! & 0x7f;
    payloads.push(
      new TextDecoder().decode(bytes.subarray(at + 2, at + 2 + length)),
    );
    at += 2 + length;
  }
  return payloads;
}

Deno.test("frame writer: a Pong per Ping, in order; a backlog of MAX_QUEUED_PONGS makes the reader wait until they leave", async () => {
  const sink = new StalledSink();
  const writer = new FrameWriter(sink, {
    masked: false,
    highWaterMark: 1024,
    onWriteFailure: (failure) => assert.fail(failure),
  });
  const pings = Array.from({ length: MAX_QUEUED_PONGS + 1 }, (_, i) => `${i}`);
  const waits = pings.map((ping) =>
    writer.pong(new TextEncoder().encode(ping))
  );
  // The first Pong is being written; the rest wait, and the one that fills
  // the backlog asks the reader to wait.
  const full = waits.findIndex((wait) => wait !== undefined);
  assert.equal(full, MAX_QUEUED_PONGS);
  let resumed = false;
  waits[full]!.then(() => (resumed = true));
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(resumed, false, "the reader waits while the peer reads nothing");
  sink.release();
  await waits[full];
  await writer.flushed;
  assert.deepEqual(pongPayloads(concat(sink.written)), pings);
});

/**
 * A sink that completes each write a macrotask later, as a socket would, and
 * checks that nobody touches the bytes of a write before it completes.
 */
class CheckingSink {
  readonly written: Uint8Array[] = [];
  async write(bytes: Uint8Array): Promise<void> {
    const copy = bytes.slice();
    await new Promise((resolve) => setTimeout(resolve, 0));
    // Compared byte by byte: a failing deepEqual of arrays this long takes
    // node:assert minutes to describe.
    const changed = bytes.findIndex((byte, at) => byte !== copy[at]);
    assert.equal(
      changed,
      -1,
      `byte ${changed} of a write changed before it completed`,
    );
    this.written.push(copy);
  }
}

/** The unmasked payloads of the masked binary frames in `bytes`, in order. */
function maskedPayloads(bytes: Uint8Array): Uint8Array[] {
  const payloads: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const header = parseFrameHeader(bytes, at, bytes.length, "server");
    assert.ok(header?.fin && header.opcode === Opcode.Binary, `at ${at}`);
    at += header.headerBytes;
    const payload = bytes.slice(at, at + header.length);
    applyMask(payload, 0, payload.length, header.maskKey);
    payloads.push(payload);
    at += header.length;
  }
  return payloads;
}

Deno.test("frame writer: a bulk sender's masked frames arrive intact, no buffer touched while being written", async () => {
  const sink = new CheckingSink();
  const writer = new FrameWriter(sink, {
    masked: true,
    highWaterMark: 1024 * 1024,
    onWriteFailure: (failure) => assert.fail(failure),
  });
  const count = 200;
  for (let i = 0; i < count; i++) {
    const room = writer.send(new Uint8Array(64 * 1024).fill(i));
    if (room !== true) assert.equal(await room, true);
  }
  await writer.flushed;
  const payloads = maskedPayloads(concat(sink.written));
  assert.equal(payloads.length, count);
  payloads.forEach((payload, i) =>
    assert.ok(payload.every((byte) => byte === (i & 0xff)), `message ${i}`)
  );
});
