import assert from "node:assert/strict";
import { clientTest, type ClientTransport } from "./_transports.ts";
import { WebSocketError, type WebSocketStream } from "../mod.ts";
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
  transport: ClientTransport,
  url: string,
): Promise<
  { wss: WebSocketStream; readable: ReadableStream<string | Uint8Array> }
> {
  const wss = transport.connect(`${url}/echo`);
  const { readable } = await wss.opened;
  return { wss, readable };
}

clientTest(
  "CLS-01 close() takes nothing, undefined, null or a dictionary; true is a TypeError",
  async (transport) => {
    await using server = startWptServer();
    const { wss } = await openEcho(transport, server.url);
    // @ts-expect-error: the close info is a dictionary
    assert.throws(() => wss.close(true), {
      name: "TypeError",
      message:
        "Cannot close WebSocketStream: close info must be an object, received true",
    });
    // @ts-expect-error: WebIDL treats null as an empty dictionary
    wss.close(null);
    wss.close(undefined);
    wss.close({});
    assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" });
  },
);

clientTest(
  "CLS-02 closeCode is an [EnforceRange] unsigned short",
  async (transport) => {
    await using server = startWptServer();
    const { wss } = await openEcho(transport, server.url);
    for (const closeCode of [NaN, Infinity, -Infinity, -1, 65536, 1000n]) {
      assert.throws(
        () => wss.close({ closeCode: closeCode as number }),
        TypeError,
        String(closeCode),
      );
    }
    wss.close({ closeCode: 3000.9 });
    assert.deepEqual(await wss.closed, { closeCode: 3000, reason: "" });
  },
);

clientTest(
  "CLS-13 close() reads and converts closeCode before it reads reason, as WebIDL does",
  async (transport) => {
    await using server = startWptServer();
    const { wss } = await openEcho(transport, server.url);
    const seen: string[] = [];
    const closeInfo = {
      get closeCode() {
        seen.push("get closeCode");
        return {
          valueOf() {
            seen.push("convert closeCode");
            return 3000;
          },
        };
      },
      get reason() {
        seen.push("get reason");
        return {
          toString() {
            seen.push("convert reason");
            return "bye";
          },
        };
      },
    };
    wss.close(closeInfo as unknown as { closeCode: number; reason: string });
    assert.deepEqual(seen, [
      "get closeCode",
      "convert closeCode",
      "get reason",
      "convert reason",
    ]);
    assert.deepEqual(await wss.closed, { closeCode: 3000, reason: "bye" });
  },
);

clientTest(
  "CLS-03 close codes other than 1000 and 3000-4999 are InvalidAccessError",
  async (transport) => {
    await using server = startWptServer();
    const { wss } = await openEcho(transport, server.url);
    for (const closeCode of [0, 999, 1001, 1005, 1006, 1015, 2999, 5000]) {
      assert.throws(
        () => wss.close({ closeCode }),
        domException("InvalidAccessError"),
        String(closeCode),
      );
    }
    wss.close({ closeCode: 4999 });
    assert.deepEqual(await wss.closed, { closeCode: 4999, reason: "" });
  },
);

clientTest(
  "CLS-04 reasons over 123 UTF-8 bytes are a SyntaxError, lone surrogates count as U+FFFD",
  async (transport) => {
    await using server = startWptServer();
    const { wss } = await openEcho(transport, server.url);
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
  },
);

clientTest(
  "CLS-05 CLS-11 close() validates in every state and is a no-op once closing",
  async (transport) => {
    const closes: unknown[] = [];
    await using server = startRawServer(async (connection) => {
      closes.push(await readUntilClose(connection));
      // A second Close frame would show up here before the end of the stream.
      closes.push(await readUntilClose(connection));
    });
    const wss = transport.connect(server.url, { closeTimeout: 200 });
    await wss.opened;
    wss.close({ closeCode: 3001, reason: "first" });
    wss.close({ closeCode: 3002, reason: "second" });
    const invalid = () => wss.close({ closeCode: 1 });
    assert.throws(invalid, domException("InvalidAccessError"));
    await assert.rejects(wss.closed, webSocketError(1006));
    assert.throws(invalid, domException("InvalidAccessError"));
    await server.close();
    assert.deepEqual(closes, [{ code: 3001, reason: "first" }, null]);
  },
);

clientTest("CLS-06 close() returns undefined", async (transport) => {
  await using server = startWptServer();
  const { wss } = await openEcho(transport, server.url);
  assert.equal(wss.close(), undefined);
  await wss.closed;
});

clientTest(
  "CLS-07 close() without a code sends an empty Close frame: 1005",
  async (transport) => {
    await using server = startWptServer();
    for (const info of [undefined, {}, { reason: "" }]) {
      const { wss } = await openEcho(transport, server.url);
      wss.close(info);
      assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" });
    }
  },
);

clientTest("CLS-08 a reason without a code sends 1000", async (transport) => {
  await using server = startWptServer();
  const { wss } = await openEcho(transport, server.url);
  wss.close({ reason: "non-empty" });
  assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "non-empty" });
});

clientTest("CLS-09 the code and reason are sent", async (transport) => {
  let received: unknown;
  await using server = startRawServer(async (connection) => {
    received = await readUntilClose(connection);
    await connection.sendClose(3456, "pizza");
  });
  const wss = transport.connect(server.url);
  await wss.opened;
  wss.close({ closeCode: 3456, reason: "pizza" });
  assert.deepEqual(await wss.closed, { closeCode: 3456, reason: "pizza" });
  assert.deepEqual(received, { code: 3456, reason: "pizza" });
});

clientTest(
  "CLS-12 messages arriving after close() are not delivered",
  async (transport) => {
    await using server = startRawServer(async (connection) => {
      await connection.writeFrame(Opcode.text, "before");
      await readUntilClose(connection);
      await connection.writeFrame(Opcode.text, "after");
      await connection.sendClose(1000);
    });
    const wss = transport.connect(server.url);
    const { readable } = await wss.opened;
    const reader = readable.getReader();
    assert.deepEqual(await reader.read(), { value: "before", done: false });
    wss.close();
    assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "" });
    assert.deepEqual(await reader.read(), { value: undefined, done: true });
  },
);

clientTest(
  "CLD-01 RD-05 WR-09 a clean close resolves closed, ends the readable, errors the writable",
  async (transport) => {
    await using server = startWptServer();
    const wss = transport.connect(
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
  },
);

clientTest(
  "CLD-03 an empty Close frame reports 1005 and reasons are UTF-8",
  async (transport) => {
    await using server = startWptServer();
    const empty = transport.connect(`${server.url}/remote-close`);
    assert.deepEqual(await empty.closed, { closeCode: 1005, reason: "" });
    const robot = transport.connect(
      `${server.url}/remote-close?code=4000&reason=${
        encodeURIComponent("ロボット")
      }`,
    );
    assert.deepEqual(await robot.closed, {
      closeCode: 4000,
      reason: "ロボット",
    });
  },
);

clientTest(
  "CLD-04 the server's code and reason win over the client's",
  async (transport) => {
    await using server = startRawServer(async (connection) => {
      await connection.sendClose(4222, "remote");
      await readUntilClose(connection);
    });
    const wss = transport.connect(server.url);
    await wss.opened;
    wss.close({ closeCode: 4111, reason: "local" });
    assert.deepEqual(await wss.closed, { closeCode: 4222, reason: "remote" });
  },
);

clientTest(
  "CLD-05 CLD-06 an abrupt close rejects closed, the reader and the writer with one WebSocketError 1006",
  async (transport) => {
    await using server = startRawServer(async (connection) => {
      await connection.writeFrame(Opcode.ping, "");
      connection.close();
    });
    const wss = transport.connect(server.url);
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
  },
);

/**
 * What settles first when the connection ends: a read waiting on the
 * readable, the writer's `closed` and the stream's `closed`.
 */
async function endingOrder(wss: WebSocketStream): Promise<string[]> {
  const { readable, writable } = await wss.opened;
  const order: string[] = [];
  const note = (what: string) => () => void order.push(what);
  const read = readable.getReader().read().then(note("read"), note("read"));
  const writer = writable.getWriter().closed.then(
    note("writer.closed"),
    note("writer.closed"),
  );
  const closed = wss.closed.then(note("closed"), note("closed"));
  await Promise.all([read, writer, closed]);
  return order;
}

clientTest(
  "CLD-10 a clean close ends the readable, then the writable, then settles closed",
  async (transport) => {
    await using server = startWptServer();
    const wss = transport.connect(`${server.url}/remote-close?code=4000`);
    assert.deepEqual(await endingOrder(wss), [
      "read",
      "writer.closed",
      "closed",
    ]);
  },
);

clientTest(
  "CLD-10 an unclean close errors the readable, then the writable, then rejects closed",
  async (transport) => {
    await using server = startRawServer(async (connection) => {
      await connection.writeFrame(Opcode.ping, "");
      connection.close();
    });
    const wss = transport.connect(server.url);
    assert.deepEqual(await endingOrder(wss), [
      "read",
      "writer.closed",
      "closed",
    ]);
  },
);

clientTest(
  "CLD-05 a peer that drops TCP instead of answering our Close: the transport's documented outcome",
  async (transport) => {
    await using server = startRawServer(async (connection) => {
      await readUntilClose(connection);
      connection.close();
    });
    const wss = transport.connect(server.url);
    await wss.opened;
    wss.close({ closeCode: 3000 });
    if (transport.droppedAfterOurClose === "clean 1005") {
      assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" });
    } else {
      await assert.rejects(wss.closed, webSocketError(1006));
    }
  },
);

clientTest(
  "CLD-08 closed settles even when nobody reads",
  async (transport) => {
    await using server = startRawServer(async (connection) => {
      for (let i = 0; i < 10; i++) {
        await connection.writeFrame(Opcode.binary, new Uint8Array(1000));
      }
      await connection.sendClose(1000, "done");
      await readUntilClose(connection);
    });
    const wss = transport.connect(server.url);
    try {
      await wss.opened;
      assert.deepEqual(
        await fulfilmentWithin(wss.closed, BOUND_MS, "closed"),
        { closeCode: 1000, reason: "done" },
      );
    } finally {
      // Lets the peer finish should the assertion fail.
      wss.close();
    }
  },
);

clientTest(
  "CLD-09 WR-08 a Close answered after 1 s is clean; writer.close() waits for it",
  async (transport) => {
    let answeredAt = 0;
    await using server = startRawServer(async (connection) => {
      const close = await readUntilClose(connection);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      answeredAt = performance.now();
      await connection.sendClose(close?.code, close?.reason);
    });
    const wss = transport.connect(server.url);
    const { writable } = await wss.opened;
    await writable.getWriter().close();
    const closedAt = performance.now();
    assert.ok(
      answeredAt > 0 && closedAt >= answeredAt,
      "resolved before the answer",
    );
    assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" });
  },
);

clientTest(
  "CLD-09 a peer that never answers our Close is dropped after closeTimeout with 1006",
  async (transport) => {
    let peerSawEnd = false;
    await using server = startRawServer(async (connection) => {
      await readUntilClose(connection);
      // Keep TCP open and never answer; the client has to give up.
      await connection.drainUntilEnd();
      peerSawEnd = true;
    });
    const wss = transport.connect(server.url, { closeTimeout: 200 });
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
  },
);

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
 * past `bytes` of messages after our Close; over a transport that discards
 * those messages, that closeTimeout dropped it.
 */
async function assertDroppedAfterClose(
  transport: ClientTransport,
  url: string,
  receiveLimit: number,
  bytes: number,
  closeInfo?: { closeCode: number; reason: string },
): Promise<void> {
  if (transport.discardsAfterOurClose) {
    // Nothing is held, so closeTimeout alone bounds the wait.
    const wss = transport.connect(url, { receiveLimit, closeTimeout: 300 });
    await wss.opened;
    wss.close(closeInfo);
    webSocketError(1006)(await rejectionWithin(wss.closed, BOUND_MS, "closed"));
    return;
  }
  const wss = transport.connect(url, { receiveLimit, closeTimeout: 60_000 });
  await wss.opened;
  wss.close(closeInfo);
  const error = await rejectionWithin(wss.closed, BOUND_MS, "closed");
  webSocketError(1006, {
    message: new RegExp(`more than ${bytes} bytes of messages after our Close`),
  })(error);
}

clientTest(
  "CLD-09 a peer that keeps sending after our Close gets the Close, then is dropped once past an eighth of receiveLimit, long before closeTimeout",
  async (transport) => {
    const peer = ignoreCloseAndSend(FRAME_64K);
    await using server = startRawServer(peer.handler);
    // An eighth of 16 MiB is 2 MiB; the cut-off, 8 MiB, is never reached.
    await assertDroppedAfterClose(transport, server.url, 16 * MiB, 2 * MiB, {
      closeCode: 4000,
      reason: "enough",
    });
    await server.close();
    assert.deepEqual(peer.seen.close, { code: 4000, reason: "enough" });
    if (!transport.discardsAfterOurClose) {
      assert.ok(
        peer.seen.chunks < 64,
        `the peer sent ${peer.seen.chunks} frames`,
      );
    }
  },
);

clientTest(
  "CLD-09 a burst past the cut-off after our Close, with no event-loop turn to wait for, is dropped at once",
  async (transport) => {
    const peer = ignoreCloseAndSend(frames(FRAME_64K, 64), { once: true });
    await using server = startRawServer(peer.handler);
    // Small limits have floors: give up past 512 KiB, cut off past 1 MiB.
    await assertDroppedAfterClose(transport, server.url, 64 * 1024, MiB);
  },
);

clientTest(
  "CLD-09 empty messages after our Close count too: a flood of them is dropped like any other",
  async (transport) => {
    const peer = ignoreCloseAndSend(frames(encodeFrame(Opcode.binary), 100), {
      most: 10_000,
    });
    await using server = startRawServer(peer.handler);
    // 64 bytes of bookkeeping each: past 512 KiB after some 8,200 messages.
    await assertDroppedAfterClose(transport, server.url, 64 * 1024, 512 * 1024);
    await server.close();
    assert.ok(
      peer.seen.chunks < 10_000,
      `the peer sent ${peer.seen.chunks} batches of 100 empty messages`,
    );
  },
);

clientTest(
  "CLD-09 data after our Close within the allowance is dropped and the close is clean",
  async (transport) => {
    await using server = startRawServer(async (connection) => {
      await readUntilClose(connection);
      // 7 x 64 KiB after our Close: under the 512 KiB allowance.
      for (let i = 0; i < 7; i++) {
        await connection.writeFrame(Opcode.binary, new Uint8Array(64 * 1024));
      }
      await connection.sendClose(1000, "bye");
    });
    const wss = transport.connect(server.url);
    await wss.opened;
    wss.close();
    assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "bye" });
  },
);

clientTest(
  "CLD-02 WR-11 a peer that closes and drops TCP during a large write: unclean, the write rejects",
  async (transport) => {
    await using server = startRawServer(closeDuringWrite(4567, "stop"));
    const wss = transport.connect(server.url);
    const { writable } = await wss.opened;
    const writer = writable.getWriter();
    await writer.write("first");
    const big = writer.write(new Uint8Array(32 * 1024 * 1024));
    const [closed, written] = await Promise.allSettled([wss.closed, big]);
    assert.equal(closed.status, "rejected", "closed resolved");
    webSocketError(transport.reportsPeerCodeWhenUnclean ? 4567 : 1006)(
      closed.reason,
    );
    assert.equal(written.status, "rejected", "the write resolved");
    domException("InvalidStateError")(written.reason);
    await assert.rejects(
      writer.write("later"),
      domException("InvalidStateError"),
    );
  },
);

clientTest(
  "WR-10 a write incomplete when the peer closes rejects with InvalidStateError",
  async (transport) => {
    // Unlike WPT's echo_exit server, this peer never reads the large message:
    // Deno's server would read all of it, and the write could finish first.
    await using server = startRawServer(closeDuringWrite(1000));
    const wss = transport.connect(server.url);
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
  },
);
