import assert from "node:assert/strict";
import { WebSocketStream } from "../mod.ts";
import { BOUND_MS, domException, fulfilmentWithin } from "./_assert.ts";
import { closeDuringWrite, Opcode, startRawServer } from "./_raw_server.ts";

// `deno task test` runs with --v8-flags=--expose-gc.
const gc = (globalThis as { gc?: () => void }).gc;

function collect(): void {
  assert.ok(gc, "run with --v8-flags=--expose-gc");
  for (let i = 0; i < 5; i++) gc();
}

Deno.test("GC-01 collecting garbage while writes are pending does not crash", async () => {
  const release = Promise.withResolvers<void>();
  await using server = startRawServer(() => release.promise);
  const writes: Promise<unknown>[] = [];
  await (async () => {
    const wss = new WebSocketStream(server.url, { writeHighWaterMark: 0 });
    const { writable } = await wss.opened;
    const writer = writable.getWriter();
    for (let i = 0; i < 20; i++) {
      writes.push(writer.write(new Uint8Array(100_000)).catch((e) => e));
    }
  })();
  collect();
  release.resolve();
  const outcomes = await fulfilmentWithin(
    Promise.all(writes),
    BOUND_MS,
    "the pending writes",
  );
  // Each write either went out or was cut short by the drop.
  for (const outcome of outcomes) {
    if (outcome !== undefined) domException("InvalidStateError")(outcome);
  }
  // The peer dropped the connection without reading: not everything went out.
  assert.ok(
    outcomes.some((outcome) => outcome !== undefined),
    "expected at least one write to reject",
  );
});

Deno.test("GC-02 after garbage collection a write pending at close still rejects", async () => {
  // The peer never reads the large message, so the write cannot finish first.
  await using server = startRawServer(closeDuringWrite(1000));
  const { pending } = await (async () => {
    const wss = new WebSocketStream(server.url);
    const { writable } = await wss.opened;
    const writer = writable.getWriter();
    await writer.write("Goodbye");
    return { pending: writer.write(new Uint8Array(32 * 1024 * 1024)) };
  })();
  collect();
  await assert.rejects(pending, domException("InvalidStateError"));
});

Deno.test("GC-03 a connection nobody references keeps delivering", async () => {
  const received: string[] = [];
  const done = Promise.withResolvers<void>();
  await using server = startRawServer(async (connection) => {
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const text of ["one", "two"]) {
      await connection.writeFrame(Opcode.text, text);
    }
    await connection.sendClose(1000);
    await connection.readMessage();
  });
  (() => {
    new WebSocketStream(server.url).opened.then(({ readable }) =>
      readable.pipeTo(
        new WritableStream({
          write: (message) => {
            received.push(message as string);
          },
          close: () => done.resolve(),
        }),
      )
    ).catch(done.reject);
  })();
  collect();
  await done.promise;
  assert.deepEqual(received, ["one", "two"]);
});
