import assert from "node:assert/strict";
import { clientTest, type ClientTransport } from "./_transports.ts";
import { WebSocketError } from "../mod.ts";
import { domException, webSocketError } from "./_assert.ts";
import { Opcode, parseClosePayload, startRawServer } from "./_raw_server.ts";
import { startWptServer, type TestServer } from "./_wpt_server.ts";

async function openEcho(transport: ClientTransport, server: TestServer) {
  const wss = transport.connect(`${server.url}/echo`);
  const { readable, writable } = await wss.opened;
  return { wss, reader: readable.getReader(), writer: writable.getWriter() };
}

clientTest(
  "WR-01 every BufferSource is sent as binary: exactly the viewed bytes, copied at write time",
  async (transport) => {
    await using server = startWptServer();
    const { wss, reader, writer } = await openEcho(transport, server);
    const backing =
      new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
        .buffer;
    const chunks: [string, BufferSource, number[]][] = [
      ["ArrayBuffer", backing.slice(0, 4), [0, 1, 2, 3]],
      ["Uint8Array view", new Uint8Array(backing, 2, 3), [2, 3, 4]],
      ["Int8Array", new Int8Array([-1, 1]), [255, 1]],
      ["Uint8ClampedArray", new Uint8ClampedArray([300 as number]), [255]],
      ["Uint16Array view", new Uint16Array(backing, 4, 1), [4, 5]],
      ["Int32Array", new Int32Array([1]), [1, 0, 0, 0]],
      ["Float32Array", new Float32Array([1]), [0, 0, 128, 63]],
      ["Float64Array", new Float64Array([0]), [0, 0, 0, 0, 0, 0, 0, 0]],
      ["BigInt64Array", new BigInt64Array([1n]), [1, 0, 0, 0, 0, 0, 0, 0]],
      ["DataView", new DataView(backing, 8, 2), [8, 9]],
    ];
    for (const [kind, chunk, bytes] of chunks) {
      await writer.write(chunk);
      const { value } = await reader.read();
      assert.ok(value instanceof Uint8Array, kind);
      assert.deepEqual([...value], bytes, kind);
    }
    const mutable = new Uint8Array([1, 2, 3]);
    const written = writer.write(mutable);
    mutable.fill(9);
    await written;
    assert.deepEqual([...(await reader.read()).value as Uint8Array], [1, 2, 3]);
    wss.close();
    await wss.closed;
  },
);

clientTest(
  "WR-01 a detached buffer, or a view on one, is an empty binary message",
  async (transport) => {
    await using server = startWptServer();
    const { wss, reader, writer } = await openEcho(transport, server);
    const detach = (buffer: ArrayBuffer) => buffer.transfer();
    const buffer = new ArrayBuffer(4);
    detach(buffer);
    const view = new Uint8Array([1, 2, 3]);
    detach(view.buffer);
    const dataView = new DataView(new ArrayBuffer(2));
    detach(dataView.buffer as ArrayBuffer);
    for (const chunk of [buffer, view, dataView]) {
      await writer.write(chunk);
      const { value } = await reader.read();
      assert.ok(value instanceof Uint8Array);
      assert.equal(value.byteLength, 0);
    }
    wss.close();
    await wss.closed;
  },
);

clientTest(
  "WR-02 anything else is sent as text, lone surrogates replaced",
  async (transport) => {
    await using server = startWptServer();
    const { wss, reader, writer } = await openEcho(transport, server);
    const cases: [unknown, string][] = [
      [42, "42"],
      [null, "null"],
      [undefined, "undefined"],
      [true, "true"],
      [{ toString: () => "custom" }, "custom"],
      [["a", "b"], "a,b"],
      // No BufferSource, as only views on shared memory are refused.
      [new SharedArrayBuffer(2), "[object SharedArrayBuffer]"],
      ["\uD800x", "\uFFFDx"],
    ];
    for (const [chunk, text] of cases) {
      await writer.write(chunk);
      assert.deepEqual(await reader.read(), { value: text, done: false });
    }
    wss.close();
    await wss.closed;
  },
);

const unsendable: [string, () => unknown][] = [
  ["a Symbol", () => Symbol("s")],
  ["an object that cannot be stringified", () => {
    const object = {};
    Object.assign(object, { toString: () => object, valueOf: () => object });
    return object;
  }],
  [
    "a resizable ArrayBuffer",
    () => new ArrayBuffer(1024, { maxByteLength: 65536 }),
  ],
  [
    "a view on a resizable ArrayBuffer",
    () => new Uint8Array(new ArrayBuffer(8, { maxByteLength: 16 })),
  ],
  [
    "a view on shared WebAssembly memory",
    () =>
      new Uint8Array(
        new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer,
      ),
  ],
];

for (const [what, make] of unsendable) {
  clientTest(
    `WR-03 WR-04 WR-05 WR-06 writing ${what} rejects with TypeError, errors the writable and keeps the connection`,
    async (transport) => {
      await using server = startWptServer();
      const { wss, reader, writer } = await openEcho(transport, server);
      await writer.write("before");
      const error = await writer.write(make()).then(
        () => assert.fail("the write resolved"),
        (error: unknown) => error,
      );
      assert.ok(error instanceof TypeError, String(error));
      await assert.rejects(writer.write("after"), (e) => e === error);
      await assert.rejects(writer.ready, (e) => e === error);
      // The connection is still open for reading.
      assert.deepEqual(await reader.read(), { value: "before", done: false });
      wss.close({ closeCode: 3000 });
      assert.deepEqual(await wss.closed, { closeCode: 3000, reason: "" });
    },
  );
}

clientTest(
  "WR-07 desiredSize starts at 1 and ready waits while a write waits for room",
  async (transport) => {
    let readingStarted = false;
    const release = Promise.withResolvers<void>();
    await using server = startRawServer(async (connection) => {
      await release.promise;
      readingStarted = true;
      await connection.readMessage();
      await connection.sendClose(1000);
      await connection.drainUntilEnd();
    });
    const wss = transport.connect(server.url, { writeHighWaterMark: 1024 });
    const { writable } = await wss.opened;
    const writer = writable.getWriter();
    assert.equal(writer.desiredSize, 1);
    const write = writer.write(new Uint8Array(16 * 1024 * 1024));
    assert.equal(writer.desiredSize, 0);
    let ready = false;
    writer.ready.then(() => ready = true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(ready, false, "ready resolved while the peer was not reading");
    release.resolve();
    await write;
    assert.ok(readingStarted);
    await writer.ready;
    assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "" });
  },
);

clientTest(
  "WR-14 CLS-12 once close() is called, writes reject and nothing more is sent",
  async (transport) => {
    const frames: string[] = [];
    await using server = startRawServer(async (connection) => {
      while (true) {
        const frame = await connection.readFrame();
        if (frame === null) return;
        if (frame.opcode === Opcode.close) {
          frames.push(`close ${parseClosePayload(frame.payload).code}`);
          await connection.sendClose(3000);
        } else {
          frames.push(new TextDecoder().decode(frame.payload));
        }
      }
    });
    const wss = transport.connect(server.url);
    const { writable } = await wss.opened;
    const writer = writable.getWriter();
    await writer.write("sent");
    wss.close({ closeCode: 3000 });
    await assert.rejects(
      writer.write("not sent"),
      domException("InvalidStateError"),
    );
    assert.deepEqual(await wss.closed, { closeCode: 3000, reason: "" });
    await server.close();
    assert.deepEqual(frames, ["sent", "close 3000"]);
  },
);

clientTest(
  "WR-13 a write waiting for room settles when the connection drops",
  async (transport) => {
    await using server = startRawServer(async () => {
      // Read nothing, then drop the connection.
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    const wss = transport.connect(server.url, { writeHighWaterMark: 0 });
    const { writable } = await wss.opened;
    const writer = writable.getWriter();
    const write = writer.write(new Uint8Array(32 * 1024 * 1024));
    await assert.rejects(write, domException("InvalidStateError"));
    await assert.rejects(wss.closed, webSocketError(1006));
  },
);

clientTest(
  "WR-12 WR-13 abort() while a write waits for a peer that never reads ends the write and closes",
  async (transport) => {
    let peerClose: unknown;
    await using server = startRawServer(async (connection) => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      while (true) {
        const frame = await connection.readFrame();
        if (frame === null) return;
        if (frame.opcode === Opcode.close) {
          peerClose = parseClosePayload(frame.payload);
          await connection.sendClose(4000, "aborted");
          return;
        }
      }
    });
    const wss = transport.connect(server.url, { writeHighWaterMark: 0 });
    const { writable } = await wss.opened;
    const writer = writable.getWriter();
    const write = writer.write(new Uint8Array(32 * 1024 * 1024));
    const reason = new WebSocketError("stop", {
      closeCode: 4000,
      reason: "aborted",
    });
    await writer.abort(reason);
    if (transport.finishesFrameInFlight) await write;
    else await assert.rejects(write, domException("InvalidStateError"));
    await wss.closed.catch(() => {});
    await server.close();
    assert.deepEqual(peerClose, { code: 4000, reason: "aborted" });
  },
);
