import assert from "node:assert/strict";
import { WebSocketError, WebSocketStream } from "../mod.ts";
import {
  BOUND_MS,
  delay,
  domException,
  fulfilmentWithin,
  rejectionWithin,
  webSocketError,
} from "./_assert.ts";
import { concat, MiB } from "./_bytes.ts";
import {
  closeDuringWrite,
  encodeFrame,
  Opcode,
  type RawConnection,
  startRawServer,
  writeAll,
} from "./_raw_server.ts";
import { readUntilClose } from "./_raw_client.ts";
import { startWptServer } from "./_wpt_server.ts";

async function openEcho(
  url: string,
): Promise<
  { wss: WebSocketStream; readable: ReadableStream<string | Uint8Array> }
> {
  const wss = new WebSocketStream(`${url}/echo`);
  const { readable } = await wss.opened;
  return { wss, readable };
}

Deno.test("CLS-01 close() takes nothing, undefined, null or a dictionary; true is a TypeError", async () => {
  await using server = startWptServer();
  const { wss } = await openEcho(server.url);
  // @ts-expect-error: the close info is a dictionary
  assert.throws(() => wss.close(true), TypeError);
  // @ts-expect-error: WebIDL treats null as an empty dictionary
  wss.close(null);
  wss.close(undefined);
  wss.close({});
  assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" });
});

Deno.test("CLS-02 closeCode is an [EnforceRange] unsigned short", async () => {
  await using server = startWptServer();
  const { wss } = await openEcho(server.url);
  for (const closeCode of [NaN, Infinity, -Infinity, -1, 65536]) {
    assert.throws(() => wss.close({ closeCode }), TypeError, String(closeCode));
  }
  wss.close({ closeCode: 3000.9 });
  assert.deepEqual(await wss.closed, { closeCode: 3000, reason: "" });
});

Deno.test("CLS-03 close codes other than 1000 and 3000-4999 are InvalidAccessError", async () => {
  await using server = startWptServer();
  const { wss } = await openEcho(server.url);
  for (const closeCode of [0, 999, 1001, 1005, 1006, 1015, 2999, 5000]) {
    assert.throws(
      () => wss.close({ closeCode }),
      domException("InvalidAccessError"),
      String(closeCode),
    );
  }
  wss.close({ closeCode: 4999 });
  assert.deepEqual(await wss.closed, { closeCode: 4999, reason: "" });
});

Deno.test("CLS-04 reasons over 123 UTF-8 bytes are a SyntaxError, lone surrogates count as U+FFFD", async () => {
  await using server = startWptServer();
  const { wss } = await openEcho(server.url);
  assert.throws(
    () => wss.close({ closeCode: 3000, reason: ".".repeat(124) }),
    domException("SyntaxError"),
  );
  assert.throws(
    () => wss.close({ closeCode: 3000, reason: "\uD800".repeat(42) }),
    domException("SyntaxError"),
  );
  // The code is checked before the reason.
  assert.throws(
    () => wss.close({ closeCode: 999, reason: ".".repeat(124) }),
    domException("InvalidAccessError"),
  );
  wss.close({ closeCode: 3000, reason: "\uD800".repeat(41) });
  assert.deepEqual(await wss.closed, {
    closeCode: 3000,
    reason: "\uFFFD".repeat(41),
  });
});

Deno.test("CLS-05 CLS-11 close() validates in every state and is a no-op once closing", async () => {
  const closes: unknown[] = [];
  await using server = startRawServer(async (connection) => {
    closes.push(await readUntilClose(connection));
    // A second Close frame would show up here before the end of the stream.
    closes.push(await readUntilClose(connection));
  });
  const wss = new WebSocketStream(server.url, { closeTimeout: 200 });
  await wss.opened;
  wss.close({ closeCode: 3001, reason: "first" });
  wss.close({ closeCode: 3002, reason: "second" });
  const invalid = () => wss.close({ closeCode: 1 });
  assert.throws(invalid, domException("InvalidAccessError"));
  await assert.rejects(wss.closed, webSocketError(1006));
  assert.throws(invalid, domException("InvalidAccessError"));
  await server.close();
  assert.deepEqual(closes, [{ code: 3001, reason: "first" }, null]);
});

Deno.test("CLS-06 close() returns undefined", async () => {
  await using server = startWptServer();
  const { wss } = await openEcho(server.url);
  assert.equal(wss.close(), undefined);
  await wss.closed;
});

Deno.test("CLS-07 close() without a code sends an empty Close frame: 1005", async () => {
  await using server = startWptServer();
  for (const info of [undefined, {}, { reason: "" }]) {
    const { wss } = await openEcho(server.url);
    wss.close(info);
    assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" });
  }
});

Deno.test("CLS-08 a reason without a code sends 1000", async () => {
  await using server = startWptServer();
  const { wss } = await openEcho(server.url);
  wss.close({ reason: "non-empty" });
  assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "non-empty" });
});

Deno.test("CLS-09 the code and reason are sent", async () => {
  let received: unknown;
  await using server = startRawServer(async (connection) => {
    received = await readUntilClose(connection);
    await connection.sendClose(3456, "pizza");
  });
  const wss = new WebSocketStream(server.url);
  await wss.opened;
  wss.close({ closeCode: 3456, reason: "pizza" });
  assert.deepEqual(await wss.closed, { closeCode: 3456, reason: "pizza" });
  assert.deepEqual(received, { code: 3456, reason: "pizza" });
});

Deno.test("CLS-12 messages arriving after close() are not delivered", async () => {
  await using server = startRawServer(async (connection) => {
    await connection.writeFrame(Opcode.text, "before");
    await readUntilClose(connection);
    await connection.writeFrame(Opcode.text, "after");
    await connection.sendClose(1000);
  });
  const wss = new WebSocketStream(server.url);
  const { readable } = await wss.opened;
  const reader = readable.getReader();
  assert.deepEqual(await reader.read(), { value: "before", done: false });
  wss.close();
  assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "" });
  assert.deepEqual(await reader.read(), { value: undefined, done: true });
});

Deno.test("CLD-01 RD-05 WR-09 a clean close resolves closed, ends the readable, errors the writable", async () => {
  await using server = startWptServer();
  const wss = new WebSocketStream(
    `${server.url}/remote-close?code=4000&reason=bye`,
  );
  const { readable, writable } = await wss.opened;
  assert.deepEqual(await wss.closed, { closeCode: 4000, reason: "bye" });
  assert.deepEqual(await readable.getReader().read(), {
    value: undefined,
    done: true,
  });
  const writer = writable.getWriter();
  await assert.rejects(writer.ready, domException("InvalidStateError"));
  await assert.rejects(writer.write("x"), domException("InvalidStateError"));
});

Deno.test("CLD-03 an empty Close frame reports 1005 and reasons are UTF-8", async () => {
  await using server = startWptServer();
  const empty = new WebSocketStream(`${server.url}/remote-close`);
  assert.deepEqual(await empty.closed, { closeCode: 1005, reason: "" });
  const robot = new WebSocketStream(
    `${server.url}/remote-close?code=4000&reason=${
      encodeURIComponent("ロボット")
    }`,
  );
  assert.deepEqual(await robot.closed, { closeCode: 4000, reason: "ロボット" });
});

Deno.test("CLD-04 the server's code and reason win over the client's", async () => {
  await using server = startRawServer(async (connection) => {
    await connection.sendClose(4222, "remote");
    await readUntilClose(connection);
  });
  const wss = new WebSocketStream(server.url);
  await wss.opened;
  wss.close({ closeCode: 4111, reason: "local" });
  assert.deepEqual(await wss.closed, { closeCode: 4222, reason: "remote" });
});

Deno.test("CLD-05 CLD-06 an abrupt close rejects closed, the reader and the writer with one WebSocketError 1006", async () => {
  await using server = startRawServer(async (connection) => {
    await connection.writeFrame(Opcode.ping, "");
    connection.close();
  });
  const wss = new WebSocketStream(server.url);
  const { readable, writable } = await wss.opened;
  const reader = readable.getReader();
  const writer = writable.getWriter();
  const error = await wss.closed.then(
    () => assert.fail("closed resolved"),
    (error: unknown) => error,
  );
  webSocketError(1006)(error);
  await assert.rejects(reader.read(), (e) => e === error);
  await assert.rejects(writer.ready, (e) => e === error);
});

Deno.test("CLD-05 (Deno limitation) a peer that drops TCP instead of answering our Close reads as 1005", async () => {
  // Deno's WebSocket reports this exactly like an empty Close reply (1005,
  // wasClean), so it cannot be told apart; the README documents it.
  await using server = startRawServer(async (connection) => {
    await readUntilClose(connection);
    connection.close();
  });
  const wss = new WebSocketStream(server.url);
  await wss.opened;
  wss.close({ closeCode: 3000 });
  assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" });
});

Deno.test("CLD-08 closed settles even when nobody reads, over either transport", async () => {
  for (const transport of ["websocket", "socket"] as const) {
    await using server = startRawServer(async (connection) => {
      for (let i = 0; i < 10; i++) {
        await connection.writeFrame(Opcode.binary, new Uint8Array(1000));
      }
      await connection.sendClose(1000, "done");
      await readUntilClose(connection);
    });
    const wss = new WebSocketStream(server.url, { transport });
    try {
      await wss.opened;
      assert.deepEqual(
        await fulfilmentWithin(wss.closed, BOUND_MS, `closed (${transport})`),
        { closeCode: 1000, reason: "done" },
      );
    } finally {
      // Lets the peer finish should the assertion fail.
      wss.close();
    }
  }
});

Deno.test("CLD-09 WR-08 a Close answered after 1 s is clean; writer.close() waits for it", async () => {
  let answeredAt = 0;
  await using server = startRawServer(async (connection) => {
    const close = await readUntilClose(connection);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    answeredAt = performance.now();
    await connection.sendClose(close?.code, close?.reason);
  });
  const wss = new WebSocketStream(server.url);
  const { writable } = await wss.opened;
  await writable.getWriter().close();
  const closedAt = performance.now();
  assert.ok(
    answeredAt > 0 && closedAt >= answeredAt,
    "resolved before the answer",
  );
  assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" });
});

Deno.test("CLD-09 a peer that never answers our Close is dropped after closeTimeout with 1006", async () => {
  let peerSawEnd = false;
  await using server = startRawServer(async (connection) => {
    await readUntilClose(connection);
    // Keep TCP open and never answer; the client has to give up.
    await connection.drainUntilEnd();
    peerSawEnd = true;
  });
  const wss = new WebSocketStream(server.url, { closeTimeout: 200 });
  const { readable, writable } = await wss.opened;
  const writer = writable.getWriter();
  const closing = writer.close();
  const error = await wss.closed.then(
    () => assert.fail("closed resolved"),
    (error: unknown) => error,
  );
  webSocketError(1006)(error);
  assert.match((error as WebSocketError).message, /200 ms/);
  await assert.rejects(closing, (e) => e === error);
  await assert.rejects(readable.getReader().read(), (e) => e === error);
  await server.close();
  assert.ok(peerSawEnd, "the connection was dropped");
});

/**
 * A peer that reads our Close, ignores it and sends `chunk` (one or more
 * encoded frames) until the connection drops: once, or once per timer turn
 * (which lets the client's event loop turn between chunks), up to `most`
 * chunks, a bound the tests never need.
 */
function ignoreCloseAndSend(
  chunk: Uint8Array,
  { once = false, most = 4096 } = {},
) {
  const seen = { close: null as unknown, chunks: 0 };
  const handler = async (connection: RawConnection) => {
    seen.close = await readUntilClose(connection);
    try {
      while (seen.chunks < most) {
        await writeAll(connection.conn, chunk);
        seen.chunks++;
        if (once) return;
        await delay(1);
      }
    } catch {
      // The client dropped the connection.
    }
  };
  return { seen, handler };
}

/** `count` copies of `frame`, as one chunk. */
function frames(frame: Uint8Array, count: number): Uint8Array {
  return concat(Array.from({ length: count }, () => frame));
}

const FRAME_64K = encodeFrame(Opcode.binary, new Uint8Array(64 * 1024));

/**
 * Opens a client on `url` with `receiveLimit` and a close timeout the test
 * never reaches, closes it with `closeInfo`, and asserts that it was dropped
 * past `bytes` of messages after our Close.
 */
async function assertDroppedAfterClose(
  url: string,
  receiveLimit: number,
  bytes: number,
  closeInfo?: { closeCode: number; reason: string },
): Promise<void> {
  const wss = new WebSocketStream(url, { receiveLimit, closeTimeout: 60_000 });
  await wss.opened;
  wss.close(closeInfo);
  const error = await rejectionWithin(wss.closed, BOUND_MS, "closed");
  webSocketError(1006, {
    message: new RegExp(`more than ${bytes} bytes of messages after our Close`),
  })(error);
}

Deno.test("CLD-09 a peer that keeps sending after our Close gets the Close, then is dropped once past an eighth of receiveLimit, long before closeTimeout", async () => {
  const peer = ignoreCloseAndSend(FRAME_64K);
  await using server = startRawServer(peer.handler);
  // An eighth of 16 MiB is 2 MiB; the cut-off, 8 MiB, is never reached.
  await assertDroppedAfterClose(server.url, 16 * MiB, 2 * MiB, {
    closeCode: 4000,
    reason: "enough",
  });
  await server.close();
  assert.deepEqual(peer.seen.close, { code: 4000, reason: "enough" });
  assert.ok(peer.seen.chunks < 64, `the peer sent ${peer.seen.chunks} frames`);
});

Deno.test("CLD-09 a burst past the cut-off after our Close, with no event-loop turn to wait for, is dropped at once", async () => {
  const peer = ignoreCloseAndSend(frames(FRAME_64K, 64), { once: true });
  await using server = startRawServer(peer.handler);
  // Small limits have floors: give up past 512 KiB, cut off past 1 MiB.
  await assertDroppedAfterClose(server.url, 64 * 1024, MiB);
});

Deno.test("CLD-09 empty messages after our Close count too: a flood of them is dropped like any other", async () => {
  const peer = ignoreCloseAndSend(frames(encodeFrame(Opcode.binary), 100), {
    most: 10_000,
  });
  await using server = startRawServer(peer.handler);
  // 64 bytes of bookkeeping each: past 512 KiB after some 8,200 messages.
  await assertDroppedAfterClose(server.url, 64 * 1024, 512 * 1024);
  await server.close();
  assert.ok(
    peer.seen.chunks < 10_000,
    `the peer sent ${peer.seen.chunks} batches of 100 empty messages`,
  );
});

Deno.test("CLD-09 data after our Close within the allowance is dropped and the close is clean", async () => {
  await using server = startRawServer(async (connection) => {
    await readUntilClose(connection);
    // 7 x 64 KiB after our Close: under the 512 KiB allowance.
    for (let i = 0; i < 7; i++) {
      await connection.writeFrame(Opcode.binary, new Uint8Array(64 * 1024));
    }
    await connection.sendClose(1000, "bye");
  });
  const wss = new WebSocketStream(server.url);
  await wss.opened;
  wss.close();
  assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "bye" });
});

Deno.test("CLD-02 WR-11 a peer that closes and drops TCP during a large write: unclean, the write rejects", async () => {
  await using server = startRawServer(closeDuringWrite(4567, "stop"));
  const wss = new WebSocketStream(server.url);
  const { writable } = await wss.opened;
  const writer = writable.getWriter();
  await writer.write("first");
  const big = writer.write(new Uint8Array(32 * 1024 * 1024));
  // Deno's WebSocket cannot send its Close reply while the frame is stuck,
  // fails the connection when TCP drops, and does not report the 4567 it
  // received: 1006.
  await assert.rejects(wss.closed, webSocketError(1006));
  await assert.rejects(big, domException("InvalidStateError"));
  await assert.rejects(
    writer.write("later"),
    domException("InvalidStateError"),
  );
});

Deno.test("WR-10 a write incomplete when the peer closes rejects with InvalidStateError", async () => {
  // Unlike WPT's echo_exit server, this peer never reads the large message:
  // Deno's server would read all of it, and the write could finish first.
  await using server = startRawServer(closeDuringWrite(1000));
  const wss = new WebSocketStream(server.url);
  const { writable } = await wss.opened;
  const writer = writable.getWriter();
  await writer.write("Goodbye");
  const big = writer.write(new Uint8Array(32 * MiB));
  const error = await big.then(
    () => assert.fail("the write resolved"),
    (error: unknown) => error,
  );
  domException("InvalidStateError")(error);
  await assert.rejects(writer.write("later"), (e) => e === error);
  await assert.rejects(wss.closed, WebSocketError);
});
