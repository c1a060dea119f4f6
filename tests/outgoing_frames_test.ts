/**
 * The outgoing frame queue on its own: frames leave in order, and written
 * gathering buffers are reused for later frames, never while being written.
 */

import assert from "node:assert/strict";
import { Opcode } from "../src/socket/frame.ts";
import { OutgoingFrames } from "../src/socket/outgoing_frames.ts";

/** A frame of 64 KiB: several fit in one gathering buffer, not many. */
const payload = new Uint8Array(64 * 1024);

/** Queues `count` frames and takes every run of them. */
function pushAndTake(frames: OutgoingFrames, count: number): Uint8Array[] {
  for (let i = 0; i < count; i++) frames.push(Opcode.Binary, payload);
  const runs: Uint8Array[] = [];
  for (let run = frames.take(); run !== undefined; run = frames.take()) {
    runs.push(run);
  }
  return runs;
}

Deno.test("outgoing frames: buffers written while more frames wait are all reused", () => {
  const frames = new OutgoingFrames(true);
  // Reach the largest gathering buffer first.
  for (const run of pushAndTake(frames, 8)) frames.release(run);
  for (let i = 0; i < 8; i++) frames.push(Opcode.Binary, payload);
  const first = [frames.take()!, frames.take()!];
  for (const run of first) frames.release(run);
  // The queue never ran dry: both written buffers take the next frames.
  const next = pushAndTake(frames, 8);
  for (const run of first) {
    assert.ok(next.some((later) => later.buffer === run.buffer));
  }
  for (const run of next) frames.release(run);
  assert.equal(frames.bytes, 0);
});

Deno.test("outgoing frames: a buffer still being written is not reused, and a drained queue keeps one spare", () => {
  const frames = new OutgoingFrames(true);
  for (const run of pushAndTake(frames, 8)) frames.release(run);
  const held = pushAndTake(frames, 12);
  assert.ok(held.length >= 3);
  const later = pushAndTake(frames, 12);
  for (const run of later) {
    assert.ok(held.every((kept) => kept.buffer !== run.buffer));
  }
  for (const run of [...held, ...later]) frames.release(run);
  // The queue ran dry (take() gave undefined) before these were released:
  // they are kept, until it runs dry again.
  assert.equal(frames.take(), undefined);
  const reused = new Set(held.concat(later).map((run) => run.buffer));
  const afterDry = pushAndTake(frames, 12);
  const kept = afterDry.filter((run) => reused.has(run.buffer));
  assert.equal(kept.length, 1, "one spare is kept once the queue runs dry");
});
