/**
 * The stream core over a scripted transport: what only exact control of the
 * event order can pin down, such as when a connection is dropped after our
 * Close. Everything else is tested over real sockets.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { queuedSize } from "../src/receive_queue.ts";
import { StreamCore } from "../src/stream_core.ts";
import type { Message } from "../src/message.ts";
import type { Transport, TransportEvents } from "../src/transport.ts";
import { delay, webSocketError } from "./_assert.ts";

/** A transport that records what the core asks of it. */
class ScriptedTransport implements Transport {
  readonly pausable = false;
  events!: TransportEvents;
  closes: (number | undefined)[] = [];
  terminated = false;
  start(events: TransportEvents): void {
    this.events = events;
  }
  send(_message: Message): true {
    return true;
  }
  close(closeCode: number | undefined): void {
    this.closes.push(closeCode);
  }
  terminate(): void {
    this.terminated = true;
  }
}

/** An open client core with `receiveLimit`, whose close has started. */
function closingCore(receiveLimit: number) {
  const transport = new ScriptedTransport();
  const core = new StreamCore(transport, {
    role: "client",
    receiveLimit,
    overflowCloseCode: 4009,
    closeTimeout: 60_000,
  });
  core.startTransport();
  transport.events.onOpen("", "");
  core.startClosing(4000, "");
  assert.deepEqual(transport.closes, [4000]);
  return { core, transport };
}

/** Asserts that the core dropped the connection past `bytes` after our Close. */
async function assertDropped(
  { core, transport }: ReturnType<typeof closingCore>,
  bytes: number,
): Promise<void> {
  assert.equal(transport.terminated, true, "not dropped");
  await assert.rejects(
    core.closed,
    webSocketError(1006, {
      message: new RegExp(`more than ${bytes} bytes of messages`),
    }),
  );
}

Deno.test("CLD-09 past an eighth of receiveLimit after our Close, the drop waits two timer turns, so that our Close is written first", async () => {
  // An eighth of 16 MiB: 2 MiB; the cut-off, half: 8 MiB.
  const closing = closingCore(16 * 1024 * 1024);
  const { transport } = closing;
  transport.events.onMessage(new Uint8Array(2 * 1024 * 1024));
  assert.equal(transport.terminated, false, "dropped at once");
  // Our timers were set before this one, so each has fired when it does.
  await delay(0);
  assert.equal(transport.terminated, false, "dropped after one turn");
  await delay(0);
  await assertDropped(closing, 2097152);
});

Deno.test("CLD-09 past half of receiveLimit after our Close, the connection is dropped at once", async () => {
  const closing = closingCore(16 * 1024 * 1024);
  closing.transport.events.onMessage(new Uint8Array(8 * 1024 * 1024));
  await assertDropped(closing, 8388608);
});

Deno.test("CLD-09 small limits have floors: 512 KiB before giving up, 1 MiB before dropping at once", async () => {
  const closing = closingCore(1024);
  const { transport } = closing;
  transport.events.onMessage(new Uint8Array(512 * 1024 - 64));
  assert.equal(transport.terminated, false, "512 KiB is within the allowance");
  transport.events.onMessage(new Uint8Array(0));
  assert.equal(transport.terminated, false, "dropped before two turns");
  transport.events.onMessage(new Uint8Array(512 * 1024));
  await assertDropped(closing, 1048576);
});

Deno.test("CLD-09 the peer's Close before the drop ends the wait: clean, no timer left behind", async () => {
  const { core, transport } = closingCore(16 * 1024 * 1024);
  transport.events.onMessage(new Uint8Array(3 * 1024 * 1024));
  transport.events.onClose(4000, "", "", true);
  assert.deepEqual(await core.closed, { closeCode: 4000, reason: "" });
  await delay(0);
  await delay(0);
  assert.equal(transport.terminated, false);
});

/** One step of a reader against a transport that cannot pause. */
type LimitStep = { kind: "arrive"; length: number } | { kind: "read" };

// Lengths that count 100, 200 or 300 bytes, and limits in hundreds, so that
// a message often fills the limit exactly.
const limitStep: fc.Arbitrary<LimitStep> = fc.oneof(
  fc.oneof(fc.constantFrom(36, 136, 236), fc.integer({ min: 0, max: 300 }))
    .map((length): LimitStep => ({ kind: "arrive", length })),
  fc.constant<LimitStep>({ kind: "read" }),
);

/**
 * What a reader gets, by the standard's stream (it holds the oldest message
 * unread, outside the limit) and a queue of the rest bounded by `limit`:
 * each read's message length or "error", and the arrival that overflowed.
 */
function modelReads(limit: number, steps: readonly LimitStep[]) {
  const held: number[] = [];
  const reads: (number | "error")[] = [];
  let waiting = 0;
  let overflowAt: number | undefined;
  steps.forEach((step, index) => {
    if (step.kind === "read") {
      if (held.length > 0) reads.push(held.shift()!);
      else if (overflowAt !== undefined) reads.push("error");
      else waiting++;
      return;
    }
    if (overflowAt !== undefined) return;
    if (waiting > 0) {
      waiting--;
      reads.push(step.length);
      return;
    }
    const behind = held.slice(1).reduce(
      (sum, length) => sum + queuedSize(new Uint8Array(length)),
      0,
    );
    if (
      held.length > 0 &&
      behind + queuedSize(new Uint8Array(step.length)) > limit
    ) {
      overflowAt = index;
      return;
    }
    held.push(step.length);
  });
  return { reads, overflowAt };
}

for (const role of ["client", "server"] as const) {
  Deno.test(`BP-01 over a transport that cannot pause, reads and the overflow point match the standard's stream with a bounded queue [${role}]`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 15 }).map((hundreds) => hundreds * 100),
        fc.array(limitStep, { maxLength: 120 }),
        async (limit, steps) => {
          const transport = new ScriptedTransport();
          const core = new StreamCore(transport, {
            role,
            receiveLimit: limit,
            overflowCloseCode: 4009,
            closeTimeout: 60_000,
          });
          core.closed.catch(() => {});
          core.startTransport();
          transport.events.onOpen("", "");
          const { readable } = await core.opened;
          const reader = readable.getReader();
          const reads: Promise<number | "error" | "done">[] = [];
          let overflowAt: number | undefined;
          for (const [index, step] of steps.entries()) {
            if (step.kind === "read") {
              reads.push(
                reader.read().then(
                  ({ value }) => value?.length ?? "done",
                  () => "error" as const,
                ),
              );
            } else {
              transport.events.onMessage(new Uint8Array(step.length));
              if (overflowAt === undefined && transport.closes.length > 0) {
                assert.deepEqual(transport.closes, [4009]);
                overflowAt = index;
              }
            }
            // Let a read that waits reach the core, as between two events.
            await delay(0);
          }
          const expected = modelReads(limit, steps);
          assert.equal(overflowAt, expected.overflowAt);
          // Reads still waiting at the end stay so: settle them.
          transport.events.onClose(1000, "", "", true);
          const got = (await Promise.all(reads)).slice(
            0,
            expected.reads.length,
          );
          assert.deepEqual(got, expected.reads);
          await reader.cancel().catch(() => {});
        },
      ),
      { numRuns: 60 },
    );
  });
}
