import assert from "node:assert/strict";
import { clientTest, type ClientTransport } from "./_transports.ts";
import { WebSocketError } from "../mod.ts";
import { webSocketError } from "./_assert.ts";
import { Opcode, parseClosePayload, startRawServer } from "./_raw_server.ts";
import { startWptServer } from "./_wpt_server.ts";

/** A connection to the echo route of the server at `url`, with its reader and writer. */
async function openEcho(transport: ClientTransport, url: string) {
  const wss = transport.connect(`${url}/echo`);
  const { readable, writable } = await wss.opened;
  return { wss, reader: readable.getReader(), writer: writable.getWriter() };
}

clientTest(
  "RD-01 a fragmented message is delivered once, whole",
  async (transport) => {
    await using server = startRawServer(async (connection) => {
      await connection.writeFrame(Opcode.text, "frag", false);
      await connection.writeFrame(Opcode.continuation, "men", false);
      await connection.writeFrame(Opcode.continuation, "ted", true);
      await connection.sendClose(1000);
      await connection.readMessage();
    });
    const wss = transport.connect(server.url);
    const { readable } = await wss.opened;
    assert.deepEqual(await Array.fromAsync(readable), ["fragmented"]);
    await wss.closed;
  },
);

clientTest(
  "RD-02 RD-03 text arrives as string, binary as Uint8Array (empty too)",
  async (transport) => {
    await using server = startWptServer();
    const { wss, reader, writer } = await openEcho(transport, server.url);
    await writer.write("text");
    await writer.write(new Uint8Array(16).fill(7));
    await writer.write(new Uint8Array(0));
    assert.deepEqual(await reader.read(), { value: "text", done: false });
    const { value: binary } = await reader.read();
    assert.ok(binary instanceof Uint8Array);
    assert.equal(binary.constructor, Uint8Array);
    assert.ok(ArrayBuffer.isView(binary));
    assert.equal(binary.byteLength, 16);
    assert.deepEqual([...binary], new Array(16).fill(7));
    const { value: empty } = await reader.read();
    assert.ok(empty instanceof Uint8Array);
    assert.equal(empty.byteLength, 0);
    wss.close();
    await wss.closed;
  },
);

clientTest(
  "RD-06 an unclean close delivers what arrived, then errors the reader with closed's error",
  async (transport) => {
    await using server = startRawServer(async (connection) => {
      for (const text of ["a", "b", "c"]) {
        await connection.writeFrame(Opcode.text, text);
      }
      connection.close();
    });
    const wss = transport.connect(server.url);
    const { readable } = await wss.opened;
    const error = await wss.closed.then(
      () => assert.fail("closed resolved"),
      (error: unknown) => error,
    );
    webSocketError(1006)(error);
    const reader = readable.getReader();
    for (const text of ["a", "b", "c"]) {
      assert.deepEqual(await reader.read(), { value: text, done: false });
    }
    await assert.rejects(reader.read(), (e) => e === error);
  },
);

/** The WPT cancel/abort table: what the peer's echo of our Close says. */
const closeUsingReasonCases: [string, () => unknown, number, string][] = [
  ["nothing", () => undefined, 1005, ""],
  ["a plain object", () => ({ closeCode: 3333, reason: "obsolete" }), 1005, ""],
  [
    "a WebSocketError with a code",
    () => new WebSocketError("", { closeCode: 3333 }),
    3333,
    "",
  ],
  [
    "a WebSocketError with a code and reason",
    () => new WebSocketError("", { closeCode: 3456, reason: "set" }),
    3456,
    "set",
  ],
  [
    "a WebSocketError with a reason only",
    () => new WebSocketError("", { reason: "specified" }),
    1000,
    "specified",
  ],
  [
    "a DOMException carrying look-alike properties",
    () =>
      Object.assign(new DOMException("yes", "DataCloneError"), {
        closeCode: 4000,
        reason: "ignored",
      }),
    1005,
    "",
  ],
  [
    "an object made from WebSocketError.prototype",
    () => Object.create(WebSocketError.prototype),
    1005,
    "",
  ],
  [
    "a WebSocketError whose closeCode and reason are shadowed",
    () =>
      Object.defineProperties(
        new WebSocketError("", { closeCode: 3333, reason: "own" }),
        { closeCode: { value: 4444 }, reason: { value: "shadow" } },
      ),
    3333,
    "own",
  ],
];

for (const [how, makeReason, closeCode, reason] of closeUsingReasonCases) {
  clientTest(
    `RD-07 RD-08 RD-09 readable.cancel() with ${how} closes with ${closeCode}`,
    async (transport) => {
      await using server = startWptServer();
      const wss = transport.connect(`${server.url}/echo`);
      const { readable } = await wss.opened;
      await readable.cancel(makeReason());
      assert.deepEqual(await wss.closed, { closeCode, reason });
    },
  );

  clientTest(
    `WR-12 writable.abort() with ${how} closes with ${closeCode}`,
    async (transport) => {
      await using server = startWptServer();
      const wss = transport.connect(`${server.url}/echo`);
      const { writable } = await wss.opened;
      await writable.abort(makeReason());
      assert.deepEqual(await wss.closed, { closeCode, reason });
    },
  );
}

clientTest(
  "RD-07 cancel() while a read waits ends that read and closes with the code",
  async (transport) => {
    await using server = startWptServer();
    const { wss, reader, writer } = await openEcho(transport, server.url);
    // A read waits, its message comes, and the next read waits in turn.
    const first = reader.read();
    await writer.write("a");
    assert.deepEqual(await first, { value: "a", done: false });
    const waiting = reader.read();
    await reader.cancel(new WebSocketError("", { closeCode: 4001 }));
    assert.deepEqual(await waiting, { value: undefined, done: true });
    assert.deepEqual(await wss.closed, { closeCode: 4001, reason: "" });
  },
);

clientTest(
  "ERR-10 a WebSocketError whose code cannot be sent falls back to a plain close",
  async (transport) => {
    await using server = startWptServer();
    const failed = transport.connect(`${server.url}/404`);
    const unsendable = await failed.closed.then(
      () => assert.fail("closed resolved"),
      (error: unknown) => error,
    );
    webSocketError(1006)(unsendable);
    const wss = transport.connect(`${server.url}/echo`);
    const { readable } = await wss.opened;
    await readable.cancel(unsendable);
    assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" });
  },
);

clientTest(
  "RD-10 cancel() after the close started resolves and sends nothing more",
  async (transport) => {
    const closeFrames: unknown[] = [];
    await using server = startRawServer(async (connection) => {
      while (true) {
        const frame = await connection.readFrame();
        if (frame === null) return;
        if (frame.opcode === Opcode.close) {
          closeFrames.push(parseClosePayload(frame.payload));
          if (closeFrames.length === 1) await connection.sendClose(3000, "ok");
        }
      }
    });
    const wss = transport.connect(server.url);
    const { readable } = await wss.opened;
    wss.close({ closeCode: 3000, reason: "ok" });
    await readable.cancel(new WebSocketError("", { closeCode: 3001 }));
    assert.deepEqual(await wss.closed, { closeCode: 3000, reason: "ok" });
    await server.close();
    assert.deepEqual(closeFrames, [{ code: 3000, reason: "ok" }]);
  },
);
