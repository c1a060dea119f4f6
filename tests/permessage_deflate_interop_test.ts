/**
 * permessage-deflate over real sockets, both roles: our client
 * (`transport: "socket"`) against npm `ws`'s and Python `websockets`'
 * servers, their clients against `handleUpgrade` with `compression`, every
 * parameter combination, fragmented compressed messages, inflate bombs,
 * invalid compressed data (1007) and misplaced RSV1 (1002).
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import { type CompressionOptions, WebSocketStream } from "../mod.ts";
import { BOUND_MS, fulfilmentWithin, rejectionWithin } from "./_assert.ts";
import { concat } from "./_bytes.ts";
import { startNodeStreamServer } from "./_node_stream_server.ts";
import { findPeer, peerTest } from "./_peers.ts";
import {
  encodeClientFrame,
  rawHandshake,
  readUntilClose,
} from "./_raw_client.ts";
import {
  closePayload,
  encodeFrame,
  Opcode,
  startRawServer,
  writeAll,
} from "./_raw_server.ts";
import { echo } from "./_stream_server.ts";
import { DeflateCodec } from "../src/socket/permessage_deflate_codec.ts";
import type { WsDeflateOptions } from "./_ws_permessage_deflate.ts";

const SOCKET = { transport: "socket" } as const;
const RSV1 = 0x40;
const encoder = new TextEncoder();

/** Chat-like JSON messages of 1-2 KiB that share most of their text. */
function chatMessages(count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      type: "message",
      room: "general",
      user: { id: 1000 + (i % 7), name: `user-${i % 7}` },
      text: `Message ${i}: the quick brown fox jumps over the lazy dog. `
        .repeat(20 + (i % 5)),
    }));
}

function byteLength(messages: string[]): number {
  return messages.reduce(
    (sum, text) => sum + encoder.encode(text).byteLength,
    0,
  );
}

/** Parameter combinations, ours against theirs, in both option vocabularies. */
const COMBINATIONS: [CompressionOptions, WsDeflateOptions][] = [
  [{}, {}],
  [{ serverNoContextTakeover: true }, {}],
  [{ clientNoContextTakeover: true }, {}],
  [{}, { serverNoContextTakeover: true, clientNoContextTakeover: true }],
  [{ serverMaxWindowBits: 10 }, { serverMaxWindowBits: 9 }],
  [{ clientMaxWindowBits: 9 }, {}],
  [{}, { clientMaxWindowBits: 8 }],
  [{ serverMaxWindowBits: 8, clientMaxWindowBits: 8 }, {}],
  [
    {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 11,
    },
    { serverMaxWindowBits: 12, clientMaxWindowBits: 11 },
  ],
];

/** Starts a `ws` echo server with `perMessageDeflate`; resolves with its port. */
async function startWsServer(perMessageDeflate: WsDeflateOptions) {
  const server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate,
  });
  const sockets: Socket[] = [];
  server.on(
    "connection",
    (socket: WebSocket, request: IncomingMessage) => {
      sockets.push(request.socket as Socket);
      socket.on(
        "message",
        (data: Uint8Array, isBinary: boolean) =>
          socket.send(isBinary ? data : data.toString(), { binary: isBinary }),
      );
    },
  );
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    sockets,
    [Symbol.asyncDispose]: () =>
      new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

Deno.test("CMP-02 ws server: our client agrees with every parameter combination and both directions compress", async () => {
  for (const [ours, theirs] of COMBINATIONS) {
    await using server = await startWsServer(theirs);
    const wss = new WebSocketStream(server.url, {
      ...SOCKET,
      compression: ours,
    });
    const { readable, writable, extensions } = await wss.opened;
    assert.match(extensions, /^permessage-deflate/, JSON.stringify(ours));
    const messages = chatMessages(20);
    const writer = writable.getWriter();
    const reader = readable.getReader();
    for (const message of messages) {
      await writer.write(message);
      assert.equal((await reader.read()).value, message);
    }
    const socket = server.sockets[0]!;
    const total = byteLength(messages);
    assert.ok(
      socket.bytesRead < total / 3,
      `${socket.bytesRead} bytes read for ${total}: ${extensions}`,
    );
    assert.ok(
      socket.bytesWritten < total / 3,
      `${socket.bytesWritten} bytes written for ${total}: ${extensions}`,
    );
    wss.close();
    await wss.closed;
  }
});

Deno.test("CMP-02 ws client: handleUpgrade with compression agrees with every parameter combination and both directions compress", async () => {
  for (const [ours, theirs] of COMBINATIONS) {
    await using server = await startNodeStreamServer({ compression: ours });
    const socket = new WebSocket(server.url, { perMessageDeflate: theirs });
    await new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
    const stream = await server.accept();
    echo(stream);
    assert.match((await stream.opened).extensions, /^permessage-deflate/);
    // ws reports the names of what it agreed to.
    assert.equal(
      (socket as unknown as { extensions: string }).extensions,
      "permessage-deflate",
    );
    const messages = chatMessages(20);
    for (const message of messages) {
      const received = new Promise<string>((resolve) =>
        socket.once("message", (data: Uint8Array) => resolve(`${data}`))
      );
      socket.send(message);
      assert.equal(await received, message);
    }
    const tcp = (socket as unknown as { _socket: Socket })._socket;
    const total = byteLength(messages);
    assert.ok(tcp.bytesWritten < total / 3, `${tcp.bytesWritten} of ${total}`);
    assert.ok(tcp.bytesRead < total / 3, `${tcp.bytesRead} of ${total}`);
    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.close(1000);
    await closed;
  }
});

Deno.test("CMP-01 defaults: a client offers compression, compression: false offers none, a server accepts only when asked", async () => {
  for (
    const [clientOption, serverOption, agreed] of [
      [undefined, true, true],
      [false, true, false],
      [undefined, undefined, false],
    ] as const
  ) {
    await using server = await startNodeStreamServer(
      serverOption === undefined ? {} : { compression: serverOption },
    );
    const wss = new WebSocketStream(server.url, {
      ...SOCKET,
      ...(clientOption === undefined ? {} : { compression: clientOption }),
    });
    const stream = await server.accept();
    echo(stream);
    const { extensions } = await wss.opened;
    assert.equal(extensions, agreed ? "permessage-deflate" : "");
    assert.equal((await stream.opened).extensions, extensions);
    // A message through both ends, compressed or not.
    const { readable, writable } = await wss.opened;
    const [message] = chatMessages(1);
    await writable.getWriter().write(message!);
    assert.equal((await readable.getReader().read()).value, message);
    wss.close();
    await wss.closed;
  }
});

Deno.test("CMP-03 fragments: a compressed message in many frames from ws arrives whole, in order with others", async () => {
  await using server = await startNodeStreamServer({ compression: true });
  const socket = new WebSocket(server.url, { perMessageDeflate: {} });
  await new Promise((resolve) => socket.once("open", resolve));
  const stream = await server.accept();
  const { readable } = await stream.opened;
  const reader = readable.getReader();
  const messages = chatMessages(3);
  for (const fragments of [2, 50]) {
    const whole = messages.join("|");
    const size = Math.ceil(whole.length / fragments);
    for (let at = 0; at < whole.length; at += size) {
      socket.send(whole.slice(at, at + size), {
        fin: at + size >= whole.length,
        compress: true,
      });
    }
    socket.send(messages[0]!);
    assert.equal((await reader.read()).value, whole);
    assert.equal((await reader.read()).value, messages[0]);
  }
  const closed = new Promise((resolve) => socket.once("close", resolve));
  socket.close(1000);
  await closed;
});

Deno.test("CMP-07 order: long compressed, short and binary messages and then close() reach ws in order", async () => {
  const received: string[] = [];
  const server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: {},
  });
  const closed = Promise.withResolvers<number>();
  server.on("connection", (socket: WebSocket) => {
    socket.on(
      "message",
      (data: Uint8Array, isBinary: boolean) =>
        received.push(isBinary ? `binary ${data.byteLength}` : `${data}`),
    );
    socket.on("close", (code: number) => closed.resolve(code));
  });
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as { port: number };
  try {
    const wss = new WebSocketStream(`ws://127.0.0.1:${port}`, SOCKET);
    const { writable } = await wss.opened;
    const writer = writable.getWriter();
    // A long message takes zlib a while; the short ones are not compressed
    // but must wait for it, and so must the Close.
    const long = chatMessages(1)[0]!.repeat(2000);
    const sent = [long, "short", new Uint8Array(5000), ...chatMessages(3)];
    // Each write resolves once the transport took the message, before it
    // is compressed.
    await Promise.all(sent.map((message) => writer.write(message)));
    wss.close({ closeCode: 1000, reason: "done" });
    assert.equal(await closed.promise, 1000);
    assert.deepEqual(
      received,
      sent.map((message) =>
        typeof message === "string" ? message : `binary ${message.byteLength}`
      ),
    );
    await wss.closed;
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

Deno.test("CMP-02 empty messages: before, between and after compressed ones, they echo through ws intact", async () => {
  await using server = await startWsServer({});
  const wss = new WebSocketStream(server.url, SOCKET);
  try {
    const { readable, writable, extensions } = await wss.opened;
    assert.match(extensions, /permessage-deflate/);
    const writer = writable.getWriter();
    const reader = readable.getReader();
    const [first, second] = chatMessages(2);
    for (const message of ["", first!, "", "", second!, new Uint8Array(0)]) {
      await fulfilmentWithin(writer.write(message), BOUND_MS, "write");
      const echoed = await fulfilmentWithin(reader.read(), BOUND_MS, "echo");
      assert.deepEqual(echoed.value, message);
    }
    wss.close();
    await fulfilmentWithin(wss.closed, BOUND_MS, "closed");
  } finally {
    // A failed case must not leave the server waiting for its client.
    for (const socket of server.sockets) socket.destroy();
  }
});

Deno.test("WR-01 compressed: a node:buffer Buffer is copied at write time, though its slice() shares its bytes", async () => {
  await using server = await startWsServer({});
  const wss = new WebSocketStream(server.url, SOCKET);
  const { readable, writable, extensions } = await wss.opened;
  assert.match(extensions, /permessage-deflate/);
  const writer = writable.getWriter();
  // Long enough to be compressed, which happens after the write resolved.
  const chunk = Buffer.alloc(8 * 1024, 1);
  const written = writer.write(chunk);
  chunk.fill(2);
  await written;
  const { value } = await readable.getReader().read();
  wss.close();
  await wss.closed;
  assert.deepEqual(value, new Uint8Array(8 * 1024).fill(1));
});

/** `size` zeros compressed into one message's payload. */
async function bombPayload(size: number): Promise<Uint8Array> {
  const codec = new DeflateCodec({
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  }, "server");
  const zeros = new Uint8Array(64 * 1024 * 1024);
  const parts: Uint8Array[] = [];
  for (let done = 0; done < size; done += zeros.byteLength) {
    parts.push((await codec.compress(zeros))!);
  }
  codec.close();
  return concat(parts);
}

/** A frame with RSV1 set, masked when `masked`. */
function compressedFrame(
  opcode: number,
  payload: Uint8Array,
  { masked, fin = true }: { masked: boolean; fin?: boolean },
): Uint8Array {
  const frame = masked
    ? encodeClientFrame(opcode, payload)
    : encodeFrame(opcode, payload, { fin });
  if (!fin) frame[0]! &= 0x7f;
  frame[0]! |= RSV1;
  return frame;
}

Deno.test("CMP-04 inflate bomb: a server gets 256 MiB of zeros in 256 KiB and closes with the overflow code, memory bounded", async () => {
  const bomb = await bombPayload(256 * 1024 * 1024);
  await using server = await startNodeStreamServer({
    compression: true,
    receiveLimit: 1024 * 1024,
  });
  using client = await rawHandshake(server.port, {
    headers: { "Sec-WebSocket-Extensions": "permessage-deflate" },
  });
  assert.equal(
    client.headers.get("sec-websocket-extensions"),
    "permessage-deflate",
  );
  const stream = await server.accept();
  const { readable } = await stream.opened;
  const before = Deno.memoryUsage().rss;
  await writeAll(
    client.connection.conn,
    compressedFrame(Opcode.binary, bomb, { masked: true }),
  );
  assert.equal((await readUntilClose(client.connection))?.code, 4009);
  await client.writeFrame(Opcode.close, closePayload(4009));
  const grown = (Deno.memoryUsage().rss - before) / 2 ** 20;
  assert.ok(grown < 128, `RSS grew ${grown.toFixed(0)} MiB`);
  await assert.rejects(readable.getReader().read());
  await stream.closed.catch(() => {});
});

Deno.test("CMP-04 inflate bomb: a client gets 256 MiB of zeros in 256 KiB and closes with the overflow code, memory bounded", async () => {
  const bomb = await bombPayload(256 * 1024 * 1024);
  let closeCode: number | undefined;
  await using server = startRawServer(async (connection) => {
    await writeAll(
      connection.conn,
      compressedFrame(Opcode.binary, bomb, { masked: false }),
    );
    closeCode = (await readUntilClose(connection))?.code;
  }, { responseHeaders: ["Sec-WebSocket-Extensions: permessage-deflate"] });
  const before = Deno.memoryUsage().rss;
  const wss = new WebSocketStream(server.url, {
    ...SOCKET,
    receiveLimit: 1024 * 1024,
  });
  assert.equal((await wss.opened).extensions, "permessage-deflate");
  const failure = await rejectionWithin(wss.closed, BOUND_MS, "closed");
  assert.equal((failure as { closeCode?: number }).closeCode, 4009);
  await server.close();
  assert.equal(closeCode, 4009);
  const grown = (Deno.memoryUsage().rss - before) / 2 ** 20;
  assert.ok(grown < 128, `RSS grew ${grown.toFixed(0)} MiB`);
});

/** What each role's peer sends, and the close code and reason that follow. */
const BAD_FRAMES: [string, (masked: boolean) => Uint8Array, number, RegExp][] =
  [
    [
      "invalid compressed data",
      (masked) =>
        compressedFrame(
          Opcode.text,
          new Uint8Array([0xff, 0xff, 0xff, 0xff]),
          { masked },
        ),
      1007,
      /sent a compressed message that does not inflate: invalid block type/,
    ],
    [
      "RSV1 on a Ping",
      (masked) => compressedFrame(Opcode.ping, new Uint8Array(0), { masked }),
      1002,
      /set RSV1 on a control frame/,
    ],
    [
      "RSV1 on a continuation frame",
      (masked) => {
        const payload = new Uint8Array([0x02, 0x00]);
        const first = compressedFrame(Opcode.text, payload, { masked });
        first[0]! &= 0x7f;
        const next = compressedFrame(Opcode.continuation, payload, { masked });
        return concat([first, next]);
      },
      1002,
      /set RSV1 on a continuation frame/,
    ],
  ];

Deno.test("CMP-05 CMP-06 bad frames: a server fails the connection with 1007 for data that does not inflate, 1002 for misplaced RSV1", async () => {
  await using server = await startNodeStreamServer({ compression: true });
  for (const [what, frame, code, reason] of BAD_FRAMES) {
    using client = await rawHandshake(server.port, {
      headers: { "Sec-WebSocket-Extensions": "permessage-deflate" },
    });
    const stream = await server.accept();
    await stream.opened;
    await writeAll(client.connection.conn, frame(true));
    assert.equal((await readUntilClose(client.connection))?.code, code, what);
    const failure = await rejectionWithin(stream.closed, BOUND_MS, "closed");
    assert.match(String(failure), reason, what);
  }
});

Deno.test("CMP-05 CMP-06 bad frames: a client fails the connection with 1007 for data that does not inflate, 1002 for misplaced RSV1 or RSV1 not agreed", async () => {
  const cases = [
    ...BAD_FRAMES.map(([what, frame, code, reason]) =>
      [what, frame(false), code, reason, true] as const
    ),
    [
      "RSV1 without compression agreed",
      compressedFrame(Opcode.text, new Uint8Array([0x02, 0x00]), {
        masked: false,
      }),
      1002,
      /reserved bits no extension was negotiated for/,
      false,
    ] as const,
  ];
  for (const [what, frame, code, reason, agreed] of cases) {
    let closeCode: number | undefined;
    await using server = startRawServer(async (connection) => {
      await writeAll(connection.conn, frame);
      closeCode = (await readUntilClose(connection))?.code;
    }, {
      responseHeaders: agreed
        ? ["Sec-WebSocket-Extensions: permessage-deflate"]
        : [],
    });
    const wss = new WebSocketStream(server.url, {
      ...SOCKET,
      ...(agreed ? {} : { compression: false }),
    });
    const failure = await rejectionWithin(wss.closed, BOUND_MS, "closed");
    assert.match(String(failure), reason, what);
    await server.close();
    assert.equal(closeCode, code, what);
  }
});

const python = findPeer("python");

/** Python `websockets` (compression on by default) as client or server. */
const PYTHON_PEER = `
import asyncio, json, sys
import websockets

MESSAGES = [json.dumps({"n": i, "text": "the quick brown fox jumps over the lazy dog " * (25 + i % 5)}) for i in range(20)]

async def talk(ws):
    for message in MESSAGES:
        await ws.send(message)
        assert await ws.recv() == message
    print([e.name for e in ws.extensions], flush=True)

async def client(url):
    async with websockets.connect(url) as ws:
        print(ws.response_headers.get("Sec-WebSocket-Extensions"), flush=True)
        await talk(ws)

async def server():
    done = asyncio.get_running_loop().create_future()
    async def handler(ws):
        try:
            async for message in ws:
                await ws.send(message)
            print(ws.request_headers.get("Sec-WebSocket-Extensions"), flush=True)
        finally:
            done.set_result(None)
    async with websockets.serve(handler, "127.0.0.1", 0) as running:
        print(running.sockets[0].getsockname()[1], flush=True)
        await done

asyncio.run(client(sys.argv[1]) if len(sys.argv) > 1 else server())
`;

peerTest(
  python,
  "CMP-01 CMP-02 python websockets client: handleUpgrade with compression agrees and echoes",
  async (path) => {
    await using server = await startNodeStreamServer({ compression: true });
    const child = new Deno.Command(path, {
      args: ["-c", PYTHON_PEER, server.url],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stream = await server.accept();
    echo(stream);
    const output = await child.output();
    const stdout = new TextDecoder().decode(output.stdout);
    assert.ok(output.success, new TextDecoder().decode(output.stderr));
    assert.match(
      stdout,
      /^permessage-deflate.*\n\['permessage-deflate'\]\n$/,
    );
    assert.match((await stream.opened).extensions, /^permessage-deflate/);
  },
);

peerTest(
  python,
  "CMP-01 CMP-02 python websockets server: our client agrees and echoes, compressed both ways",
  async (path) => {
    const child = new Deno.Command(path, {
      args: ["-c", PYTHON_PEER],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const chunks = child.stdout.pipeThrough(new TextDecoderStream()).values();
    // The first line is the port it listens on.
    let printed = "";
    while (!printed.includes("\n")) {
      const { value, done } = await chunks.next();
      if (done) throw new Error("the Python server ended before listening");
      printed += value;
    }
    const port = Number(printed.slice(0, printed.indexOf("\n")));
    const wss = new WebSocketStream(`ws://127.0.0.1:${port}`, SOCKET);
    const { readable, writable, extensions } = await wss.opened;
    assert.match(extensions, /^permessage-deflate/);
    const reader = readable.getReader();
    const writer = writable.getWriter();
    for (let i = 0; i < 20; i++) {
      const message = JSON.stringify({
        n: i,
        text: "the quick brown fox jumps over the lazy dog ".repeat(25 + i % 5),
      });
      await writer.write(message);
      assert.equal((await reader.read()).value, message);
    }
    wss.close({ closeCode: 1000 });
    await wss.closed;
    for await (const chunk of chunks) printed += chunk;
    assert.match(
      printed,
      /^\d+\npermessage-deflate; client_max_window_bits\n$/,
    );
    const status = await child.status;
    assert.ok(
      status.success,
      new TextDecoder().decode(
        (await new Response(child.stderr).arrayBuffer()) as ArrayBuffer,
      ),
    );
  },
);
