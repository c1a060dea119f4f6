import assert from "node:assert/strict";
import { WebSocketStream } from "../mod.ts";
import {
  SLOW_CLIENT_CLOSE_CODE,
  startChatServer,
  TOO_LONG,
} from "../examples/broadcast_chat.ts";
import { startEchoServer } from "../examples/echo_server.ts";
import {
  download,
  startFileServer,
  upload,
} from "../examples/file_transfer.ts";
import { delay } from "./_assert.ts";
import { Opcode, parseClosePayload } from "./_raw_server.ts";
import { rawHandshake, readUntil } from "./_raw_client.ts";
import { readCount } from "./_stream_server.ts";
import { DenoProcess } from "./_subprocess.ts";

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

/**
 * The chat server on a free port, with a queue bound of `maxQueuedBytes`
 * per member, and two members, "talker" and "listener", connected; disposing
 * stops the server.
 */
async function chatOfTwo(maxQueuedBytes: number) {
  const controller = new AbortController();
  const chat = startChatServer({
    port: 0,
    signal: controller.signal,
    maxQueuedBytes,
  });
  const stop = async () => {
    controller.abort();
    await chat.server.finished;
  };
  const url = `ws://127.0.0.1:${chat.server.addr.port}/?name=talker`;
  const talker = new WebSocketStream(url);
  const listener = new WebSocketStream(url.replace("talker", "listener"));
  try {
    const [talkerOpen, listenerOpen] = await Promise.all([
      talker.opened,
      listener.opened,
    ]);
    return {
      chat,
      talker,
      listener,
      talkerOpen,
      listenerOpen,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await Promise.allSettled([talker.closed, listener.closed]);
    await stop();
    throw error;
  }
}

Deno.test("examples/broadcast_chat.ts fans out to every other member and drops one that stops reading with 4008", async () => {
  await using room = await chatOfTwo(1024 * 1024);
  const { chat, talker, listener, talkerOpen, listenerOpen } = room;
  // Connects, but never reads a byte.
  using slow = await rawHandshake(chat.server.addr.port);
  for (let i = 0; i < 100 && chat.clients < 3; i++) await delay(10);
  assert.equal(chat.clients, 3);

  // Far more than the slow client's socket buffers and queue hold.
  const count = 400;
  const filler = "x".repeat(64 * 1024);
  const writer = talkerOpen.writable.getWriter();
  // The talker waits for the listener's copy of each message, so the
  // listener never falls behind; the talker does not get its own.
  const listenerReader = listenerOpen.readable.getReader();
  for (let i = 0; i < count; i++) {
    await writer.write(`${i} ${filler}`);
    const { value } = await listenerReader.read();
    assert.ok((value as string).startsWith(`talker: ${i} `));
  }
  listener.close();
  await listener.closed;
  talker.close();
  await talker.closed;
  const close = await readUntil(slow.connection, Opcode.close);
  assert.deepEqual(parseClosePayload(close!), {
    code: SLOW_CLIENT_CLOSE_CODE,
    reason: "Subscriber too slow",
  });
  await slow.writeFrame(Opcode.close, close!);
  for (let i = 0; i < 100 && chat.clients > 0; i++) await delay(10);
  assert.equal(chat.clients, 0);
});

Deno.test("examples/broadcast_chat.ts: a message longer than the room takes is refused to its sender alone, who stays", async () => {
  await using room = await chatOfTwo(1024);
  const { chat, talker, listener, talkerOpen, listenerOpen } = room;
  for (let i = 0; i < 100 && chat.clients < 2; i++) await delay(10);
  const writer = talkerOpen.writable.getWriter();
  await writer.write("x".repeat(2048));
  const { value: notice } = await talkerOpen.readable.getReader().read();
  assert.equal(notice, TOO_LONG);
  await writer.write("short");
  const { value } = await listenerOpen.readable.getReader().read();
  assert.equal(value, "talker: short");
  listener.close();
  talker.close();
  await Promise.all([listener.closed, talker.closed]);
});

Deno.test("examples/broadcast_chat.ts: a terminal member whose server goes away says so on one line and exits 1", async () => {
  const controller = new AbortController();
  const chat = startChatServer({ port: 0, signal: controller.signal });
  await using member = new DenoProcess([
    "run",
    "--allow-net=127.0.0.1",
    "examples/broadcast_chat.ts",
    "--connect",
    `ws://127.0.0.1:${chat.server.addr.port}/`,
    "--name",
    "ada",
  ]);
  await member.waitForStdout(/^joined .* as ada$/m);
  // Its input stays open: only the server's end can end it.
  controller.abort();
  await chat.server.finished;
  const status = await member.status;
  const { stderr } = await member.finished();
  assert.equal(status.code, 1, stderr);
  assert.match(
    stderr,
    /^Cannot chat in ws:\/\/127\.0\.0\.1:\d+\/: WebSocket connection closed .*1006.*\n$/,
  );
});

Deno.test("examples/file_transfer.ts: a download replaces a longer file that was there", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const server = startFileServer(`${dir}/stored.bin`);
    try {
      await Deno.writeFile(`${dir}/small.bin`, new Uint8Array([1, 2, 3]));
      await Deno.writeFile(`${dir}/copy.bin`, new Uint8Array(1024));
      await upload(`${server.url}/upload`, `${dir}/small.bin`);
      await download(`${server.url}/download`, `${dir}/copy.bin`);
    } finally {
      await server.close();
    }
    assert.deepEqual(
      await Deno.readFile(`${dir}/copy.bin`),
      new Uint8Array([1, 2, 3]),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
