/**
 * Micro-benchmarks of the receive queue, which every message passes through
 * while the reader is behind a transport that can pause. Run with
 * `deno bench bench/micro/`.
 *
 * @module
 */

import { ReceiveQueue } from "../../src/receive_queue.ts";

const message = new Uint8Array(1024);
const BATCH = 1000;

Deno.bench(`ReceiveQueue: push then shift ${BATCH} messages`, () => {
  const queue = new ReceiveQueue();
  for (let i = 0; i < BATCH; i++) queue.push(message);
  for (let i = 0; i < BATCH; i++) queue.shift();
});

Deno.bench(`ReceiveQueue: ${BATCH} alternating push and shift`, () => {
  const queue = new ReceiveQueue();
  for (let i = 0; i < BATCH; i++) {
    queue.push(message);
    queue.shift();
  }
});
