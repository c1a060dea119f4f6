/**
 * The stream core over a scripted transport: what only exact control of the
 * event order can pin down, such as when a connection is dropped after our
 * Close. Everything else is tested over real sockets.
 *
 * @module
 */

import assert from "node:assert/strict";
import { StreamCore } from "../src/stream_core.ts";
import type { Message } from "../src/message.ts";
import type { Transport, TransportEvents } from "../src/transport.ts";
import { delay, webSocketError } from "./_assert.ts";

/** A transport that records what the core asks of it. */
class ScriptedTransport implements Transport {
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
