/**
 * Micro-benchmarks of echoed messages through the stream core, with no
 * socket, and a write the transport takes at once: a read that waits and the
 * message that answers it, as a client with a window of messages in flight
 * reads; and messages that arrive together and are then read one by one, as
 * an echo server reads a client that sends ahead. This is the JavaScript each
 * message costs on the default transport beyond Deno's own `WebSocket`, in
 * one process and so steadier than the socket benchmarks. Each case has a
 * baseline: Deno's `ReadableStream` and `WritableStream` alone, with a source
 * and a sink that do nothing, which any `WebSocketStream` built on them
 * pays, so that what the core adds shows apart from what the streams cost.
 * Run with `deno bench bench/micro/`.
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

/** An open connection's reader and writer, and how a message arrives. */
interface EchoEnds {
  receive(message: Message): void;
  reader: ReadableStreamDefaultReader<Message>;
  writer: WritableStreamDefaultWriter<unknown>;
}

/** A stream core on an open connection. */
async function openCore(): Promise<EchoEnds> {
  const core = new StreamCore(roomyTransport, {
    role: "client",
    receiveLimit: 64 * 1024 * 1024,
    overflowCloseCode: 1009,
    closeTimeout: 1000,
  });
  core.startTransport();
  core.onOpen("", "");
  const { readable, writable } = await core.opened;
  return {
    receive: (message) => core.onMessage(message),
    reader: readable.getReader() as ReadableStreamDefaultReader<Message>,
    writer: writable.getWriter(),
  };
}

/**
 * Deno's streams with the core's strategies (a readable that holds nothing
 * ahead of its reads, a writable of the default high-water mark) and no
 * work of their own: the source has no pull, the sink takes each write at
 * once.
 */
function openStreams(): Promise<EchoEnds> {
  let controller!: ReadableStreamDefaultController<Message>;
  const readable = new ReadableStream<Message>({
    start(started) {
      controller = started;
    },
  }, { highWaterMark: 0 });
  const writable = new WritableStream<unknown>({ write() {} });
  return Promise.resolve({
    receive: (message) => controller.enqueue(message),
    reader: readable.getReader(),
    writer: writable.getWriter(),
  });
}

/** Each case runs on the core, and on Deno's streams alone as its baseline. */
const ends = [
  { name: "StreamCore", open: openCore, baseline: false },
  { name: "Deno streams alone", open: openStreams, baseline: true },
];

/** Benchmarks echoing `payload`; `received` makes each arriving message. */
async function benchEcho(
  name: string,
  payload: Message,
  received: () => Message,
) {
  for (const { name: on, open, baseline } of ends) {
    const { receive, reader, writer } = await open();
    Deno.bench(
      `${on}: echo ${name}`,
      { group: `echo ${name}`, baseline },
      async () => {
        const read = reader.read();
        receive(received());
        await read;
        await writer.write(payload);
      },
    );
  }
}

/** Messages that arrive in one go before the reader gets to them. */
const BURST = 8;

/** Benchmarks echoing bursts of `BURST` messages, each read after all arrived. */
async function benchBurstEcho(name: string, received: () => Message) {
  for (const { name: on, open, baseline } of ends) {
    const { receive, reader, writer } = await open();
    Deno.bench(
      `${on}: echo ${BURST} x ${name} that arrived together`,
      { group: `burst ${name}`, baseline },
      async () => {
        for (let i = 0; i < BURST; i++) receive(received());
        for (let i = 0; i < BURST; i++) {
          const { value } = await reader.read();
          await writer.write(value);
        }
      },
    );
  }
}

const bytes = new Uint8Array(16 * 1024);
// A fresh view per message, as the default transport makes one.
const view = () => new Uint8Array(bytes.buffer);
await benchEcho("16 KiB binary", bytes, view);
await benchBurstEcho("16 KiB binary", view);
const text = "x".repeat(64);
await benchEcho("64 B text", text, () => text);
