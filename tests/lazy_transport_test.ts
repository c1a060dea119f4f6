/**
 * The transport that loads its code on first use: it starts the made
 * transport once loaded, not when terminated first, and reports a load that
 * fails as an abnormal close.
 */

import assert from "node:assert/strict";
import { LazyTransport } from "../src/lazy_transport.ts";
import type { Transport, TransportEvents } from "../src/transport.ts";

/** A transport that notes the calls it gets. */
function recordingTransport(calls: string[]): Transport {
  return {
    pausable: true,
    start: () => void calls.push("start"),
    send: () => (calls.push("send"), true),
    close: () => void calls.push("close"),
    terminate: () => void calls.push("terminate"),
  };
}

/** Events that note the closes they get. */
function recordingEvents(closes: unknown[][]): TransportEvents {
  return {
    onOpen: () => {},
    onMessage: () => true,
    onOverflow: () => {},
    onClose: (...close) => void closes.push(close),
  };
}

Deno.test("lazy transport: starts the loaded transport, and passes calls on to it", async () => {
  const calls: string[] = [];
  const loaded = Promise.withResolvers<Transport>();
  const lazy = new LazyTransport(() => loaded.promise, true, () => {});
  lazy.start(recordingEvents([]));
  assert.deepEqual(calls, []);
  loaded.resolve(recordingTransport(calls));
  await loaded.promise;
  await Promise.resolve();
  assert.equal(lazy.send("x"), true);
  lazy.close(1000, "");
  lazy.terminate();
  assert.deepEqual(calls, ["start", "send", "close", "terminate"]);
});

Deno.test("lazy transport: terminated while loading, it never starts the transport", async () => {
  const calls: string[] = [];
  const closes: unknown[][] = [];
  const loaded = Promise.withResolvers<Transport>();
  const lazy = new LazyTransport(() => loaded.promise, true, () => {});
  lazy.start(recordingEvents(closes));
  lazy.terminate();
  loaded.resolve(recordingTransport(calls));
  await loaded.promise;
  await Promise.resolve();
  assert.deepEqual(calls, []);
  assert.deepEqual(closes, []);
});

/** The closes a lazy transport over `load` reports once started. */
async function closesAfterStart(
  load: () => Promise<Transport>,
): Promise<unknown[][]> {
  const closes: unknown[][] = [];
  new LazyTransport(load, true, () => {}).start(recordingEvents(closes));
  await new Promise((resolve) => setTimeout(resolve, 0));
  return closes;
}

Deno.test("lazy transport: a load that fails closes abnormally, saying why", async () => {
  assert.deepEqual(
    await closesAfterStart(() => Promise.reject(new Error("no such module"))),
    [[null, "", "Cannot load the transport: no such module", false]],
  );
});

Deno.test("lazy transport: the check throws from start() at once, before loading", () => {
  let loads = 0;
  const lazy = new LazyTransport(
    () => (loads++, Promise.reject(new Error("unreachable"))),
    true,
    () => {
      throw new TypeError("not allowed");
    },
  );
  assert.throws(() => lazy.start(recordingEvents([])), TypeError);
  assert.equal(loads, 0);
});

Deno.test("lazy transport: a loaded transport whose start() throws closes abnormally, saying why", async () => {
  const failing: Transport = {
    ...recordingTransport([]),
    start: () => {
      // As SocketTransport does when net access was revoked meanwhile.
      throw new Deno.errors.NotCapable("Requires net access");
    },
  };
  assert.deepEqual(
    await closesAfterStart(() => Promise.resolve(failing)),
    [[null, "", "Cannot start the transport: Requires net access", false]],
  );
});
