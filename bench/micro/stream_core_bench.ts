/**
 * Micro-benchmarks of echoed messages through the stream core, with no
 * socket, and a write the transport takes at once: a read that waits and the
 * message that answers it, as a client with a window of messages in flight
 * reads; and messages that arrive together and are then read one by one, as
 * an echo server reads a client that sends ahead. This is the JavaScript each
 * message costs on the default transport beyond Deno's own `WebSocket`, in
 * one process and so steadier than the socket benchmarks. Run with
 * `deno bench bench/micro/`.
 *
 * @module
 */

import { StreamCore } from "../../src/stream_core.ts";
import type { Message } from "../../src/message.ts";
import type { Transport } from "../../src/transport.ts";

/** A transport that is always open and always has room. */
const roomyTransport: Transport = {
  pausable: false,
  start() {},
  send: () => true,
  close() {},
  terminate() {},
};

/** An open connection's reader and writer, and the core to feed messages. */
async function openCore() {
  const core = new StreamCore(roomyTransport, {
    role: "client",
    receiveLimit: 64 * 1024 * 1024,
    overflowCloseCode: 1009,
    closeTimeout: 1000,
  });
  core.startTransport();
  core.onOpen("", "");
  const { readable, writable } = await core.opened;
  return { core, reader: readable.getReader(), writer: writable.getWriter() };
}

/** Benchmarks echoing `payload`; `received` makes each arriving message. */
async function benchEcho(
  name: string,
  payload: Message,
  received: () => Message,
) {
  const { core, reader, writer } = await openCore();
  Deno.bench(`StreamCore: echo ${name}`, { group: "echo" }, async () => {
    const read = reader.read();
    core.onMessage(received());
    await read;
    await writer.write(payload);
  });
}

/** Messages that arrive in one go before the reader gets to them. */
const BURST = 8;

/** Benchmarks echoing bursts of `BURST` messages, each read after all arrived. */
async function benchBurstEcho(name: string, received: () => Message) {
  const { core, reader, writer } = await openCore();
  Deno.bench(
    `StreamCore: echo ${BURST} x ${name} that arrived together`,
    { group: "burst" },
    async () => {
      for (let i = 0; i < BURST; i++) core.onMessage(received());
      for (let i = 0; i < BURST; i++) {
        const { value } = await reader.read();
        await writer.write(value);
      }
    },
  );
}

const bytes = new Uint8Array(16 * 1024);
// A fresh view per message, as the default transport makes one.
const view = () => new Uint8Array(bytes.buffer);
await benchEcho("16 KiB binary", bytes, view);
await benchBurstEcho("16 KiB binary", view);
const text = "x".repeat(64);
await benchEcho("64 B text", text, () => text);
