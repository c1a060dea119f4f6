/**
 * The `InvalidStateError` a cleanly closed connection errors its writable
 * with. Deno captures an error's stack when the error is made, whatever
 * `Error.stackTraceLimit` says, and that costs most when a close event has
 * Deno's event dispatch on the stack: more than the rest of closing. So the
 * errors are made ahead, a batch at a time, in a microtask of their own,
 * where the stack is short; each is still a new object, handed out once.
 * Their stacks show where the batch was made, which says no less than a
 * stack through the close event's dispatch.
 *
 * @module
 */

const MESSAGE = "Cannot write to a closed WebSocketStream";
/** How many errors are made at a time; the spares are all the pool holds. */
const BATCH = 16;

const spares: DOMException[] = [];
let refilling = false;

/** A new `InvalidStateError` DOMException for a closed writable. */
export function closedWritableError(): DOMException {
  const error = spares.pop() ?? create();
  if (spares.length === 0 && !refilling) {
    refilling = true;
    queueMicrotask(refill);
  }
  return error;
}

function refill(): void {
  while (spares.length < BATCH) spares.push(create());
  refilling = false;
}

function create(): DOMException {
  return new DOMException(MESSAGE, "InvalidStateError");
}
