/**
 * The client against a server that breaks RFC 6455 on the wire. Deno's
 * WebSocket reports every protocol violation as an abnormal close (its close
 * event carries no code), so `closed` rejects with a WebSocketError whose
 * closeCode is 1006 and whose message carries Deno's reason; the readable
 * errors with the same error. Deno drops TCP without a Close frame except for
 * a bad close code, which it answers with 1002.
 */

import assert from "node:assert/strict";
import { MiB } from "./_bytes.ts";
import { WebSocketStream } from "../mod.ts";
import {
  closePayload,
  Opcode,
  parseClosePayload,
  type RawConnection,
  startRawServer,
} from "./_raw_server.ts";
import {
  BOUND_MS,
  fulfilmentWithin,
  rejectionWithin,
  webSocketError,
} from "./_assert.ts";

/** Writes raw bytes, for frames `writeFrame` cannot express. */
async function writeBytes(connection: RawConnection, bytes: number[]) {
  await connection.conn.write(new Uint8Array(bytes));
}

/** What the client sent after the violation: a Close code, or "EOF". */
async function clientAnswer(
  connection: RawConnection,
): Promise<number | undefined | "EOF"> {
  const frame = await connection.readFrame();
  if (frame === null) return "EOF";
  assert.equal(frame.opcode, Opcode.close, "only a Close may follow");
  return parseClosePayload(frame.payload).code;
}

interface Violation {
  name: string;
  send: (connection: RawConnection) => Promise<void>;
  /** Deno's reason, which ends up in the error message. */
  message: RegExp;
  /** What the server sees from the client afterwards. */
  answer: number | "EOF";
}

const violations: Violation[] = [
  {
    name: "invalid UTF-8 in a text frame",
    send: (c) => c.writeFrame(Opcode.text, new Uint8Array([0x68, 0xff, 0xfe])),
    message: /Invalid UTF-8/,
    answer: "EOF",
  },
  {
    name: "invalid UTF-8 split across continuation frames",
    send: async (c) => {
      await c.writeFrame(Opcode.text, new Uint8Array([0xe2, 0x82]), false);
      await c.writeFrame(Opcode.continuation, new Uint8Array([0x28]));
    },
    message: /Invalid UTF-8/,
    answer: "EOF",
  },
  {
    name: "a ping of 126 bytes (control frames are at most 125)",
    send: (c) => c.writeFrame(Opcode.ping, new Uint8Array(126)),
    message: /Ping frame too large/,
    answer: "EOF",
  },
  {
    name: "a fragmented ping",
    send: (c) => writeBytes(c, [Opcode.ping, 0]),
    message: /Control frame must not be fragmented/,
    answer: "EOF",
  },
  {
    name: "a Close with a 1-byte body",
    send: (c) => c.writeFrame(Opcode.close, new Uint8Array([0x03])),
    message: /Invalid close frame/,
    answer: "EOF",
  },
  {
    name: "a Close with code 1005, which must never be sent",
    send: (c) => c.sendClose(1005),
    message: /Invalid close code/,
    answer: 1002,
  },
  {
    name: "a Close with code 999",
    send: (c) => c.sendClose(999),
    message: /Invalid close code/,
    answer: 1002,
  },
  {
    name: "a Close whose reason is invalid UTF-8",
    send: (c) =>
      c.writeFrame(Opcode.close, new Uint8Array([0x03, 0xe8, 0xc3, 0x28])),
    message: /Invalid UTF-8/,
    answer: "EOF",
  },
  {
    name: "reserved data opcode 0x3",
    send: (c) => c.writeFrame(0x3, "x"),
    message: /Invalid value/,
    answer: "EOF",
  },
  {
    name: "reserved control opcode 0xB",
    send: (c) => c.writeFrame(0xb, "x"),
    message: /Invalid value/,
    answer: "EOF",
  },
  {
    name: "RSV1 set without a negotiated extension",
    send: (c) => writeBytes(c, [0x80 | 0x40 | Opcode.text, 1, 0x41]),
    message: /Reserved bits are not zero/,
    answer: "EOF",
  },
  {
    name: "RSV3 set on a binary frame",
    send: (c) => writeBytes(c, [0x80 | 0x10 | Opcode.binary, 1, 0]),
    message: /Reserved bits are not zero/,
    answer: "EOF",
  },
  {
    name: "a continuation frame with no message started",
    send: (c) => c.writeFrame(Opcode.continuation, "x"),
    message: /Invalid continuation frame/,
    answer: "EOF",
  },
  {
    name: "a new data frame in the middle of a fragmented message",
    send: async (c) => {
      await c.writeFrame(Opcode.text, "a", false);
      await c.writeFrame(Opcode.text, "b");
    },
    message: /Invalid fragment/,
    answer: "EOF",
  },
  {
    name: "a single 64 MiB frame (Deno's frame limit), refused at its header",
    send: (c) => writeBytes(c, [0x82, 127, 0, 0, 0, 0, 0x04, 0, 0, 0]),
    message: /Frame too large/,
    answer: "EOF",
  },
];

for (const violation of violations) {
  Deno.test(`malformed server: ${violation.name} fails the client with 1006`, async () => {
    const answer = Promise.withResolvers<number | undefined | "EOF">();
    await using server = startRawServer(async (connection) => {
      // A valid message first: it must reach the reader before the error.
      await connection.writeFrame(Opcode.text, "before");
      await violation.send(connection);
      answer.resolve(await clientAnswer(connection));
    });
    const wss = new WebSocketStream(server.url);
    const { readable, writable } = await fulfilmentWithin(
      wss.opened,
      BOUND_MS,
      "opened",
    );
    const reader = readable.getReader();
    assert.deepEqual(await reader.read(), { value: "before", done: false });
    const readError = await rejectionWithin(reader.read(), BOUND_MS, "read");
    const closedError = await rejectionWithin(wss.closed, BOUND_MS, "closed");
    webSocketError(1006, { message: violation.message })(closedError);
    assert.match((closedError as Error).message, /closed abnormally \(1006\)/);
    assert.equal(readError, closedError, "CLD-06 the same error everywhere");
    assert.equal(
      await rejectionWithin(writable.getWriter().write("x"), BOUND_MS, "write"),
      closedError,
    );
    assert.equal(await answer.promise, violation.answer);
  });
}

Deno.test("malformed server: a masked frame is delivered still masked (Deno does not refuse it)", async () => {
  // RFC 6455 §5.1 says a client must fail the connection here; Deno reads the
  // mask key and hands over the payload as it was on the wire. Pinned so a
  // Deno upgrade that starts refusing it is noticed.
  const mask = [1, 2, 3, 4];
  const payload = [0x68 ^ 1, 0x69 ^ 2];
  await using server = startRawServer(async (connection) => {
    await writeBytes(connection, [0x81, 0x80 | 2, ...mask, ...payload]);
    const frame = await connection.readFrame();
    assert.equal(frame?.opcode, Opcode.close);
    await connection.writeFrame(Opcode.close, frame!.payload);
  });
  const wss = new WebSocketStream(server.url);
  const { readable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  const reader = readable.getReader();
  const { value } = await reader.read();
  assert.equal(value, String.fromCharCode(...payload));
  wss.close({ closeCode: 1000 });
  assert.deepEqual(
    await fulfilmentWithin(wss.closed, BOUND_MS, "closed"),
    { closeCode: 1000, reason: "" },
  );
});

Deno.test("malformed server: data after its Close is dropped and the close stays clean", async () => {
  await using server = startRawServer(async (connection) => {
    await connection.sendClose(4000, "bye");
    await connection.writeFrame(Opcode.text, "late");
    await connection.writeFrame(Opcode.binary, new Uint8Array(10));
    await connection.drainUntilEnd();
  });
  const wss = new WebSocketStream(server.url);
  const { readable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  const received = await Array.fromAsync(readable);
  assert.deepEqual(received, []);
  assert.deepEqual(
    await fulfilmentWithin(wss.closed, BOUND_MS, "closed"),
    { closeCode: 4000, reason: "bye" },
  );
});

Deno.test("malformed server: a Close with code 1000 and a 123-byte reason is accepted", async () => {
  const reason = "é".repeat(61) + "x";
  assert.equal(new TextEncoder().encode(reason).byteLength, 123);
  await using server = startRawServer(async (connection) => {
    await connection.writeFrame(Opcode.close, closePayload(1000, reason));
    await connection.drainUntilEnd();
  });
  const wss = new WebSocketStream(server.url);
  await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  assert.deepEqual(
    await fulfilmentWithin(wss.closed, BOUND_MS, "closed"),
    { closeCode: 1000, reason },
  );
});

Deno.test("malformed server: one 20 MiB message, above receiveLimit 16 MiB, reaches a waiting reader whole", async () => {
  // receiveLimit bounds the backlog of a reader that falls behind; a message
  // the reader is already waiting for is handed over whatever its size, up to
  // Deno's own limit (64 MiB per frame; fragmented messages are not capped).
  await using server = startRawServer(async (connection) => {
    for (let i = 0; i < 20; i++) {
      const fill = new Uint8Array(MiB).fill(i);
      await connection.writeFrame(
        i === 0 ? Opcode.binary : Opcode.continuation,
        fill,
        i === 19,
      );
    }
    await connection.sendClose(1000);
    await connection.drainUntilEnd();
  });
  const wss = new WebSocketStream(server.url, { receiveLimit: 16 * MiB });
  const { readable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  const reader = readable.getReader();
  const { value } = await fulfilmentWithin(reader.read(), 20_000, "read");
  assert.ok(value instanceof Uint8Array);
  assert.equal(value.byteLength, 20 * MiB);
  assert.equal(value[19 * MiB], 19);
  assert.deepEqual(await reader.read(), { value: undefined, done: true });
  assert.deepEqual(
    await fulfilmentWithin(wss.closed, BOUND_MS, "closed"),
    { closeCode: 1000, reason: "" },
  );
});
