import assert from "node:assert/strict";
import { closedWritableError } from "../src/closed_writable_error.ts";

Deno.test("closed writable errors: each is a new InvalidStateError, also across batches", async () => {
  const seen = new Set<DOMException>();
  for (let i = 0; i < 100; i++) {
    const error = closedWritableError();
    assert.ok(error instanceof DOMException);
    assert.equal(error.name, "InvalidStateError");
    assert.equal(error.message, "Cannot write to a closed WebSocketStream");
    assert.equal(typeof error.stack, "string");
    assert.ok(!seen.has(error), `error ${i} was handed out before`);
    seen.add(error);
    // Half the time the batch is made before the next call, half not.
    if (i % 2 === 0) await Promise.resolve();
  }
});
