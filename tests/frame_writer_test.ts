/**
 * The frame writer over a sink the test controls, without TCP: one Pong per
 * Ping in order, and a bounded Pong backlog while the peer does not read.
 */

import assert from "node:assert/strict";
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
