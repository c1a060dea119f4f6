import assert from "node:assert/strict";
import { clientTest } from "./_transports.ts";
import { MiB } from "./_bytes.ts";
import type { WebSocketError } from "../mod.ts";
import { delay, webSocketError } from "./_assert.ts";
import { Opcode, parseClosePayload, startRawServer } from "./_raw_server.ts";
import { startWptServer } from "./_wpt_server.ts";

clientTest(
  "BP-02 a write of 8 MiB does not resolve before a peer that sleeps 2 s reads it",
  async (transport) => {
    let peerStartedReading = 0;
    await using server = startRawServer(async (connection) => {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      peerStartedReading = performance.now();
      await connection.readMessage();
      await connection.sendClose(1000);
      await connection.drainUntilEnd();
    });
    const wss = transport.connect(server.url);
    const { writable } = await wss.opened;
    const writer = writable.getWriter();
    await writer.write(new Uint8Array(8 * MiB));
    const resolvedAt = performance.now();
    assert.ok(
      peerStartedReading > 0,
      "the write resolved before the peer read",
    );
    assert.ok(resolvedAt >= peerStartedReading);
    assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "" });
  },
);

clientTest(
  "BP-03 pipeTo() stops pulling from its source while the peer does not read",
  async (transport) => {
    const release = Promise.withResolvers<void>();
    let received = 0;
    await using server = startRawServer(async (connection) => {
      await release.promise;
      while (true) {
        const message = await connection.readMessage();
        if (message === null) return;
        if (message.opcode === Opcode.close) {
          await connection.sendClose(1000);
          return;
        }
        received++;
      }
    });
    const wss = transport.connect(server.url, {
      writeHighWaterMark: 256 * 1024,
    });
    const { writable } = await wss.opened;
    const total = 2000;
    let pulled = 0;
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled === total) {
          controller.close();
          return;
        }
        pulled++;
        controller.enqueue(new Uint8Array(64 * 1024));
      },
    }, { highWaterMark: 0 });
    const piping = source.pipeTo(writable);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const pulledWhileStalled = pulled;
    // 2000 x 64 KiB = 125 MiB; far fewer fit in kernel buffers and our mark.
    assert.ok(
      pulledWhileStalled < 400,
      `pulled ${pulledWhileStalled} chunks from the source while the peer was not reading`,
    );
    release.resolve();
    await piping;
    assert.equal(pulled, total);
    assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "" });
    assert.equal(received, total);
  },
);

clientTest(
  "BP-01 a reader that falls behind holds the peer back, or (documented alternative) gets the queued messages, then an overflow error; the peer gets 4009",
  async (transport) => {
    // Where reads are paced, far more than the limit and the sockets' buffers
    // hold; else message 4 overflows.
    const count = transport.pacesReads ? 64 : 5;
    let peerClose: unknown;
    let peerSent = 0;
    await using server = startRawServer(async (connection) => {
      const reading = connection.readMessage();
      for (let i = 0; i < count; i++) {
        await connection.writeFrame(Opcode.binary, new Uint8Array(MiB).fill(i));
        peerSent++;
      }
      const frame = await reading;
      peerClose = frame && parseClosePayload(frame.payload);
      await connection.sendClose(
        frame ? parseClosePayload(frame.payload).code : 1000,
      );
    });
    const receiveLimit = 4 * MiB;
    const wss = transport.connect(server.url, { receiveLimit });
    const { readable } = await wss.opened;
    const reader = readable.getReader();
    const fills: number[] = [];
    if (transport.pacesReads) {
      await delay(300);
      assert.ok(
        peerSent < count / 2,
        `the peer sent ${peerSent} MiB to a reader that waits`,
      );
      for (let i = 0; i < count; i++) {
        const { value } = await reader.read();
        fills.push((value as Uint8Array)[0]!);
      }
      assert.deepEqual(fills, Array.from({ length: count }, (_, i) => i));
      wss.close({ closeCode: 1000 });
      assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "" });
      return;
    }
    const error = await wss.closed.then(
      () => assert.fail("closed resolved"),
      (error: unknown) => error,
    );
    webSocketError(4009, { reason: "Receive queue limit exceeded" })(error);
    assert.match((error as WebSocketError).message, /4194304 bytes/);
    while (true) {
      const result = await reader.read().catch((e: unknown) => e);
      if (result === error) break;
      const { value } = result as ReadableStreamReadResult<Uint8Array>;
      fills.push(value![0]!);
    }
    // One message in the stream, then as many 1 MiB messages as fit in 4 MiB
    // with their bookkeeping: 0..3, in order, nothing skipped.
    assert.deepEqual(fills, [0, 1, 2, 3]);
    assert.deepEqual(peerClose, {
      code: 4009,
      reason: "Receive queue limit exceeded",
    });
  },
);

clientTest(
  "BP-01 a peer flooding a reader that does not read is held back, or (documented alternative) still gets 4009 before it is dropped, as fast as our event loop lets it send",
  async (transport) => {
    let peerClose: unknown;
    let peerSent = 0;
    await using server = startRawServer(async (connection) => {
      const reading = connection.readMessage().then((frame) => {
        peerClose = frame && parseClosePayload(frame.payload);
      }, () => {});
      const frame = new Uint8Array(64 * 1024);
      try {
        // A bound this test never needs: the client drops the connection.
        while (peerSent < 256 * MiB) {
          await connection.writeFrame(Opcode.binary, frame);
          peerSent += frame.byteLength;
        }
      } catch {
        // The client dropped the connection.
      }
      await reading;
    });
    // Past an eighth of the limit (2 MiB) after our Close we drop the peer once
    // the event loop has turned twice, so that our Close is out first; at half
    // the limit (8 MiB) we would drop it at once, Close or not.
    const wss = transport.connect(server.url, {
      receiveLimit: 16 * MiB,
      closeTimeout: 200,
    });
    await wss.opened;
    if (transport.pacesReads) {
      await delay(500);
      const sent = peerSent;
      await delay(200);
      assert.equal(
        peerSent,
        sent,
        "the peer kept sending to a reader that waits",
      );
      assert.ok(sent < 64 * MiB, `the peer sent ${sent} bytes`);
      wss.close({ closeCode: 4000 });
      // The peer never reads our Close: closeTimeout drops it.
      await assert.rejects(wss.closed, webSocketError(1006));
      await server.close();
    } else {
      await assert.rejects(
        wss.closed,
        webSocketError(4009, { reason: "Receive queue limit exceeded" }),
      );
      await server.close();
      assert.deepEqual(peerClose, {
        code: 4009,
        reason: "Receive queue limit exceeded",
      });
      // Dropped soon after the overflow, not at 256 MiB.
      assert.ok(peerSent < 64 * MiB, `the peer sent ${peerSent} bytes`);
    }
  },
);

clientTest(
  "BP-01 a reader that keeps up never overflows, whatever the volume",
  async (transport) => {
    await using server = startWptServer();
    const wss = transport.connect(`${server.url}/send-backpressure`, {
      receiveLimit: 2 * MiB,
    });
    const { readable } = await wss.opened;
    const reader = readable.getReader();
    assert.equal(((await reader.read()).value as Uint8Array).byteLength, 0);
    for (let i = 0; i < 16; i++) {
      assert.equal(((await reader.read()).value as Uint8Array).byteLength, MiB);
    }
    const { value: seconds } = await reader.read();
    assert.equal(typeof seconds, "string");
    wss.close();
    assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" });
  },
);

clientTest(
  "LIM-04 receive overflow: the overflow code can be chosen",
  async (transport) => {
    let peerClose: unknown;
    await using server = startRawServer(async (connection) => {
      // Where reads are paced, only a message longer than the limit
      // overflows (LIM-01); else messages queued past it do.
      const messages = transport.pacesReads
        ? ["x".repeat(2000)]
        : new Array(4).fill("x".repeat(1000));
      for (const message of messages) {
        await connection.writeFrame(Opcode.text, message);
      }
      const frame = await connection.readMessage();
      peerClose = frame && parseClosePayload(frame.payload);
      await connection.sendClose(4321);
    });
    const wss = transport.connect(server.url, {
      receiveLimit: 1500,
      overflowCloseCode: 4321,
    });
    await wss.opened;
    await assert.rejects(wss.closed, webSocketError(4321));
    assert.deepEqual(peerClose, {
      code: 4321,
      reason: "Receive queue limit exceeded",
    });
  },
);
