import assert from "node:assert/strict";
import { WebSocketStream } from "../mod.ts";
import {
  SLOW_CLIENT_CLOSE_CODE,
  startChatServer,
} from "../examples/broadcast_chat.ts";
import { startEchoServer } from "../examples/echo_server.ts";
import { delay } from "./_assert.ts";
import { Opcode, parseClosePayload } from "./_raw_server.ts";
import { rawHandshake, readUntil } from "./_raw_client.ts";
import { readCount } from "./_stream_server.ts";

Deno.test("examples/echo_server.ts echoes text and binary and stops on its signal", async () => {
  const controller = new AbortController();
  const server = startEchoServer({ port: 0, signal: controller.signal });
  try {
    const client = new WebSocketStream(`ws://127.0.0.1:${server.addr.port}`);
    const { readable, writable } = await client.opened;
    const writer = writable.getWriter();
    await writer.write("echo?");
    await writer.write(new Uint8Array([4, 2]));
    assert.deepEqual(await readCount(readable, 2), [
      "echo?",
      new Uint8Array([4, 2]),
    ]);
    client.close({ closeCode: 1000, reason: "thanks" });
    assert.deepEqual(await client.closed, {
      closeCode: 1000,
      reason: "thanks",
    });
  } finally {
    controller.abort();
    await server.finished;
  }
});

Deno.test("examples/broadcast_chat.ts fans out to every client and drops one that stops reading with 4008", async () => {
  const controller = new AbortController();
  const chat = startChatServer({
    port: 0,
    signal: controller.signal,
    queueLimit: 16,
  });
  const url = `ws://127.0.0.1:${chat.server.addr.port}`;
  try {
    const talker = new WebSocketStream(url);
    const listener = new WebSocketStream(url);
    const [talkerOpen, listenerOpen] = await Promise.all([
      talker.opened,
      listener.opened,
    ]);
    // Connects, but never reads a byte.
    using slow = await rawHandshake(chat.server.addr.port);
    for (let i = 0; i < 100 && chat.clients < 3; i++) await delay(10);
    assert.equal(chat.clients, 3);

    // Far more than the slow client's socket buffers and queue hold.
    const count = 400;
    const filler = "x".repeat(64 * 1024);
    const writer = talkerOpen.writable.getWriter();
    // The listener reads all along; the talker waits for its own copy of
    // each message, so neither of them ever falls behind.
    const listenerHeard = readCount(listenerOpen.readable, count);
    listenerHeard.catch(() => {});
    const talkerReader = talkerOpen.readable.getReader();
    for (let i = 0; i < count; i++) {
      await writer.write(`${i} ${filler}`);
      const { value } = await talkerReader.read();
      assert.ok((value as string).startsWith(`${i} `));
    }
    const heard = await listenerHeard;
    assert.deepEqual(
      heard.map((message) => (message as string).split(" ")[0]),
      Array.from({ length: count }, (_, i) => `${i}`),
    );

    const close = await readUntil(slow.connection, Opcode.close);
    assert.deepEqual(parseClosePayload(close!), {
      code: SLOW_CLIENT_CLOSE_CODE,
      reason: "Too slow: send queue full",
    });
    await slow.writeFrame(Opcode.close, close!);
    for (let i = 0; i < 100 && chat.clients > 2; i++) await delay(10);
    assert.equal(chat.clients, 2);
    talker.close();
    listener.close();
    await Promise.all([talker.closed, listener.closed]);
  } finally {
    controller.abort();
    await chat.server.finished;
  }
});
