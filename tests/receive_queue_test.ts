/**
 * The receive queue against a plain array as the model: any interleaving of
 * pushes, shifts and clears keeps the order and the byte count.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import type { Message } from "../src/message.ts";
import { queuedSize, ReceiveQueue } from "../src/receive_queue.ts";

type Step =
  | { kind: "push"; message: Message }
  | { kind: "shift" }
  | { kind: "clear" };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.oneof(fc.string(), fc.uint8Array({ maxLength: 200 })).map(
      (message): Step => ({ kind: "push", message }),
    ),
  },
  { weight: 4, arbitrary: fc.constant<Step>({ kind: "shift" }) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: "clear" }) },
);

Deno.test("receive queue: any interleaving keeps order and byte count", () => {
  fc.assert(
    fc.property(
      fc.array(step, { maxLength: 300 }),
      (steps) => {
        const queue = new ReceiveQueue();
        const model: Message[] = [];
        let bytes = 0;
        for (const step of steps) {
          if (step.kind === "push") {
            queue.push(step.message);
            model.push(step.message);
            bytes += queuedSize(step.message);
          } else if (step.kind === "shift") {
            const expected = model.shift();
            if (expected !== undefined) bytes -= queuedSize(expected);
            assert.equal(queue.shift(), expected);
          } else {
            queue.clear();
            model.length = 0;
            bytes = 0;
          }
          assert.equal(queue.length, model.length);
          assert.equal(queue.bytes, bytes);
        }
      },
    ),
    { numRuns: 500 },
  );
});
