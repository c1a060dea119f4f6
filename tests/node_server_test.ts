/**
 * The node server path: `handleUpgrade` on a `node:http` server, where this
 * package speaks RFC 6455 as the server over the upgrade socket. Handshakes,
 * refusals, echo, close codes both ways, protocol errors from raw clients,
 * keepalive, and backpressure through TCP to a client that sends faster
 * than the handler reads.
 */

import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { type Duplex, PassThrough } from "node:stream";
import { WebSocketStream } from "../mod.ts";
import { handleUpgrade, type HandleUpgradeOptions } from "../node.ts";
import {
  BOUND_MS,
  fulfilmentWithin,
  rejectionWithin,
  webSocketError,
} from "./_assert.ts";
import { concat, MiB } from "./_bytes.ts";
import { startNodeStreamServer } from "./_node_stream_server.ts";
import {
  encodeFrame,
  Opcode,
  parseClosePayload,
  writeAll,
} from "./_raw_server.ts";
import {
  encodeClientFrame,
  rawHandshake,
  readUntil,
  readUntilClose,
  writeClientFrame,
} from "./_raw_client.ts";
import { clientFrame, PROTOCOL_VIOLATIONS } from "./_protocol_violations.ts";
import { echo } from "./_stream_server.ts";
import { assertTlsEcho, readTestCertificate } from "./_tls_client.ts";

const MASK = new Uint8Array([1, 2, 3, 4]);

for (const transport of ["websocket", "socket"] as const) {
  Deno.test(`SRV-01 node server: a ${transport} client's handshake selects the protocol, and text and binary echo`, async () => {
    await using server = await startNodeStreamServer({
      protocol: ["chat.v2", "chat.v1"],
    });
    const client = new WebSocketStream(`${server.url}/room?x=1`, {
      transport,
      protocols: ["chat.v1", "chat.v2"],
    });
    const stream = await server.accept();
    assert.equal(stream.url, `${server.url}/room?x=1`);
    echo(stream);
    const { readable, writable, protocol } = await fulfilmentWithin(
      client.opened,
      BOUND_MS,
      "opened",
    );
    assert.equal(protocol, "chat.v2");
    const writer = writable.getWriter();
    const reader = readable.getReader();
    const big = new Uint8Array(300_000).map((_, i) => i * 7);
    for (const message of ["héllo", new Uint8Array([1, 2, 3]), big, ""]) {
      await writer.write(message);
      assert.deepEqual((await reader.read()).value, message);
    }
    client.close({ closeCode: 4000, reason: "bye" });
    assert.deepEqual(
      await fulfilmentWithin(client.closed, BOUND_MS, "closed"),
      {
        closeCode: 4000,
        reason: "bye",
      },
    );
    assert.deepEqual(
      await fulfilmentWithin(stream.closed, BOUND_MS, "server"),
      {
        closeCode: 4000,
        reason: "bye",
      },
    );
  });
}

Deno.test("node server: plain requests reach the HTTP handler on the same port", async () => {
  await using server = await startNodeStreamServer();
  const response = await fetch(server.url.replace("ws:", "http:"));
  assert.equal(await response.text(), "ok\n");
});

const refusals: [string, Record<string, string>, number][] = [
  ["a version other than 13", { "Sec-WebSocket-Version": "8" }, 426],
  ["a foreign origin", { "Origin": "https://evil.example" }, 403],
];

for (const [what, headers, status] of refusals) {
  Deno.test(`SRV-06 node server: ${what} is refused with ${status}, and the socket ends`, async () => {
    await using server = await startNodeStreamServer({
      origins: ["https://good.example"],
    });
    using handshake = await rawHandshake(server.port, { headers });
    assert.equal(handshake.status, status);
    if (status === 426) {
      assert.equal(handshake.headers.get("sec-websocket-version"), "13");
    }
    await fulfilmentWithin(
      handshake.connection.drainUntilEnd(),
      BOUND_MS,
      "the end of the refused connection",
    );
    assert.deepEqual(server.statuses, [status]);
  });
}

Deno.test("SRV-06 node server: a handshake without a 16-byte key, or not a GET, is refused with 400", async () => {
  await using server = await startNodeStreamServer();
  for (
    const request of [
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
    ]
  ) {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    await conn.write(new TextEncoder().encode(request));
    const answer = new TextDecoder().decode(
      await new Response(conn.readable).bytes(),
    );
    assert.match(answer, /^HTTP\/1\.1 400 /);
  }
});

Deno.test("SRV-03 node server: the server's Close reaches the client with its code, and the close is clean on both ends", async () => {
  await using server = await startNodeStreamServer();
  const client = new WebSocketStream(server.url, { transport: "socket" });
  const stream = await server.accept();
  await stream.opened;
  await client.opened;
  stream.close({ closeCode: 1001, reason: "going" });
  assert.deepEqual(await fulfilmentWithin(client.closed, BOUND_MS, "client"), {
    closeCode: 1001,
    reason: "going",
  });
  assert.deepEqual(await fulfilmentWithin(stream.closed, BOUND_MS, "server"), {
    closeCode: 1001,
    reason: "going",
  });
});

Deno.test("PRO-02 node server: an unmasked client frame fails the connection with 1002", async () => {
  await using server = await startNodeStreamServer();
  using handshake = await rawHandshake(server.port);
  assert.equal(handshake.status, 101);
  const stream = await server.accept();
  await stream.opened;
  // A frame as a server would send it: no mask.
  await handshake.connection.writeFrame(Opcode.text, "unmasked");
  const close = await readUntil(handshake.connection, Opcode.close);
  assert.equal(parseClosePayload(close!).code, 1002);
  webSocketError(1006, { message: /unmasked frame/ })(
    await rejectionWithin(stream.closed, BOUND_MS, "closed"),
  );
});

for (const { what, bytes, closeCode, message } of PROTOCOL_VIOLATIONS) {
  Deno.test(`PRO-02 node server: ${what} fails the connection: the client is told ${closeCode}, then TCP ends`, async () => {
    await using server = await startNodeStreamServer();
    using handshake = await rawHandshake(server.port);
    const stream = await server.accept();
    const { readable } = await stream.opened;
    await writeAll(handshake.connection.conn, bytes(clientFrame));
    const close = await fulfilmentWithin(
      readUntilClose(handshake.connection),
      BOUND_MS,
      "the server's Close",
    );
    assert.equal(close?.code, closeCode);
    assert.equal(
      await fulfilmentWithin(
        handshake.connection.readFrame(),
        BOUND_MS,
        "the end of TCP",
      ),
      null,
      "nothing follows the Close, and TCP ends",
    );
    const error = await rejectionWithin(stream.closed, BOUND_MS, "closed");
    webSocketError(1006, { message })(error);
    await assert.rejects(readable.getReader().read(), (e) => e === error);
  });
}

Deno.test("SRV-08 node server: frames that arrive with the request head are read first", async () => {
  await using server = await startNodeStreamServer();
  using handshake = await rawHandshake(server.port);
  const stream = await server.accept();
  await writeClientFrame(handshake.connection, Opcode.text, "first");
  const { readable } = await stream.opened;
  const reader = readable.getReader();
  assert.equal((await reader.read()).value, "first");
  await writeClientFrame(
    handshake.connection,
    Opcode.close,
    new Uint8Array([0x03, 0xe8]),
  );
  assert.equal((await readUntilClose(handshake.connection))?.code, 1000);
  await fulfilmentWithin(stream.closed, BOUND_MS, "closed");
});

Deno.test("SRV-07 node server: idleTimeout pings a silent client, then closes with 1001, uncleanly", async () => {
  await using server = await startNodeStreamServer({ idleTimeout: 1 });
  using handshake = await rawHandshake(server.port);
  const stream = await server.accept();
  await stream.opened;
  assert.notEqual(await readUntil(handshake.connection, Opcode.ping), null);
  const close = await readUntil(handshake.connection, Opcode.close);
  assert.equal(parseClosePayload(close!).code, 1001);
  webSocketError(1001, { reason: "No response from ping frame." })(
    await rejectionWithin(stream.closed, BOUND_MS, "closed"),
  );
});

Deno.test("SRV-07 node server: a client that answers pings is kept past idleTimeout", async () => {
  await using server = await startNodeStreamServer({ idleTimeout: 0.4 });
  const client = new WebSocketStream(server.url, { transport: "socket" });
  const stream = await server.accept();
  await stream.opened;
  await client.opened;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  client.close();
  await fulfilmentWithin(stream.closed, BOUND_MS, "closed");
  await fulfilmentWithin(client.closed, BOUND_MS, "client closed");
});

Deno.test("SRV-10 node server: handleUpgrade validates its options as upgradeWebSocketStream does", () => {
  for (const idleTimeout of [-1, 5e6]) {
    assert.throws(
      () =>
        handleUpgrade(
          {} as unknown as IncomingMessage,
          {} as unknown as Duplex,
          new Uint8Array(),
          { idleTimeout },
        ),
      {
        name: "RangeError",
        message:
          `Cannot handle the WebSocket upgrade: options.idleTimeout must be between 0 and 4294967.294, received ${idleTimeout}`,
      },
    );
  }
});

Deno.test("SRV-10 node server: handleUpgrade names the argument the upgrade event would not give", () => {
  const request = { rawHeaders: [] } as unknown as IncomingMessage;
  const socket = new PassThrough();
  const head = new Uint8Array();
  const cases: [unknown[], string][] = [
    [[], "request must be an http.IncomingMessage, received undefined"],
    [
      [{}, socket, head],
      "request must be an http.IncomingMessage, received [object Object]",
    ],
    [
      [request, {}, head],
      "socket must be a stream.Duplex, received [object Object]",
    ],
    [
      [request, socket, {}],
      "head must be a Uint8Array, received [object Object]",
    ],
    [[request, socket, head, 5], "options must be an object, received 5"],
    [
      [request, socket, head, () => true],
      "options must be an object, received a function",
    ],
  ];
  const call = handleUpgrade as (...args: unknown[]) => unknown;
  for (const [args, why] of cases) {
    assert.throws(() => call(...args), {
      name: "TypeError",
      message: `Cannot handle the WebSocket upgrade: ${why}`,
    });
  }
  assert.equal(socket.writableLength, 0);
  socket.destroy();
});

Deno.test("PRO-04 node server: ten Pings back to back get ten Pongs, in order", async () => {
  await using server = await startNodeStreamServer();
  using handshake = await rawHandshake(server.port);
  const stream = await server.accept();
  await stream.opened;
  const sent = Array.from({ length: 10 }, (_, i) => `ping ${i}`);
  await handshake.connection.conn.write(
    concat(sent.map((payload) => encodeClientFrame(Opcode.ping, payload))),
  );
  const pongs: string[] = [];
  while (pongs.length < sent.length) {
    const pong = await readUntil(handshake.connection, Opcode.pong);
    assert.notEqual(pong, null);
    pongs.push(new TextDecoder().decode(pong!));
  }
  assert.deepEqual(pongs, sent);
  stream.close();
  await writeClientFrame(handshake.connection, Opcode.close);
  await fulfilmentWithin(stream.closed, BOUND_MS, "closed");
});

Deno.test("PRO-02 node server: invalid UTF-8 in a fragmented text message fails with 1007 at the frame that carries it", async () => {
  await using server = await startNodeStreamServer();
  using handshake = await rawHandshake(server.port);
  const stream = await server.accept();
  await stream.opened;
  await handshake.connection.conn.write(concat([
    encodeFrame(Opcode.text, "fine ", { fin: false, mask: MASK }),
    encodeFrame(Opcode.continuation, new Uint8Array([0xc3, 0x28]), {
      fin: false,
      mask: MASK,
    }),
  ]));
  // The message never ends: only a check per frame can fail it.
  const close = await readUntil(handshake.connection, Opcode.close);
  assert.equal(parseClosePayload(close!).code, 1007);
  webSocketError(1006, { message: /not valid UTF-8/ })(
    await rejectionWithin(stream.closed, BOUND_MS, "closed"),
  );
});

Deno.test("LIM-05 node server: a message of exactly receiveLimit bytes (the default 16 MiB) is delivered", async () => {
  await using server = await startNodeStreamServer();
  const client = new WebSocketStream(server.url, { transport: "socket" });
  const stream = await server.accept();
  const { readable } = await stream.opened;
  const { writable } = await client.opened;
  const writer = writable.getWriter();
  await writer.write(new Uint8Array(16 * MiB).fill(3));
  const { value } = await fulfilmentWithin(
    readable.getReader().read(),
    BOUND_MS,
    "read",
  );
  assert.equal((value as Uint8Array).byteLength, 16 * MiB);
  client.close();
  await fulfilmentWithin(client.closed, BOUND_MS, "closed");
});

Deno.test("BP-01 node server: a handler that does not read for 3 s while a client sends 128 MiB holds memory bounded, and every byte arrives in order", async () => {
  await using server = await startNodeStreamServer();
  const client = new WebSocketStream(server.url, { transport: "socket" });
  const stream = await server.accept();
  const { readable } = await stream.opened;
  const { writable } = await client.opened;
  const CHUNK = 64 * 1024;
  const TOTAL = 128 * MiB;
  const sending = (async () => {
    const writer = writable.getWriter();
    for (let sent = 0; sent < TOTAL; sent += CHUNK) {
      const chunk = new Uint8Array(CHUNK);
      const view = new DataView(chunk.buffer);
      // Each chunk carries its own offset, so order and loss show.
      for (let at = 0; at < CHUNK; at += 4096) view.setUint32(at, sent + at);
      await writer.write(chunk);
    }
    await writer.close();
  })();
  collectGarbage();
  const before = Deno.memoryUsage().rss;
  await new Promise((resolve) => setTimeout(resolve, 3000));
  collectGarbage();
  const during = Deno.memoryUsage().rss;
  // Client and server share this process: whatever the client could not
  // send waits in TCP and in its own 1 MiB write buffer.
  assert.ok(
    during - before < 48 * MiB,
    `memory grew by ${
      ((during - before) / MiB).toFixed(1)
    } MiB while the handler did not read`,
  );
  let received = 0;
  for await (const message of readable) {
    const bytes = message as Uint8Array;
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    for (let at = 0; at < bytes.byteLength; at += 4096) {
      if (view.getUint32(at) !== received + at) {
        throw new Error(`byte ${received + at} arrived out of order`);
      }
    }
    received += bytes.byteLength;
  }
  assert.equal(received, TOTAL);
  await sending;
  await fulfilmentWithin(client.closed, BOUND_MS, "client closed");
});

/** Runs V8's collector when the tests run with --expose-gc. */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

Deno.test("SRV-07 node server: a handler that does not read past idleTimeout keeps a client that is sending", async () => {
  await using server = await startNodeStreamServer({ idleTimeout: 0.5 });
  const client = new WebSocketStream(server.url, { transport: "socket" });
  const stream = await server.accept();
  const { readable } = await stream.opened;
  const { writable } = await client.opened;
  const writer = writable.getWriter();
  const sending = (async () => {
    for (let i = 0; i < 64; i++) await writer.write(new Uint8Array(64 * 1024));
  })();
  // Paused, the server cannot see a Pong behind the data in TCP.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const reader = readable.getReader();
  let received = 0;
  while (received < 64 * 64 * 1024) {
    const { value } = await fulfilmentWithin(reader.read(), BOUND_MS, "read");
    received += (value as Uint8Array).byteLength;
  }
  await sending;
  client.close();
  await fulfilmentWithin(client.closed, BOUND_MS, "client closed");
});

Deno.test("SRV-07 node server: a client sending one long message more slowly than idleTimeout is not dropped as silent", async () => {
  await using server = await startNodeStreamServer({ idleTimeout: 1 });
  using handshake = await rawHandshake(server.port);
  const stream = await server.accept();
  const { readable } = await stream.opened;
  const frame = encodeFrame(Opcode.binary, new Uint8Array(40_000), {
    mask: MASK,
  });
  // Steady sending for five keepalive periods, but no frame ends until the
  // last piece: only the bytes say the client is there.
  for (let at = 0; at < frame.length; at += 2_000) {
    await writeAll(handshake.connection.conn, frame.subarray(at, at + 2_000));
    await new Promise((resolve) => setTimeout(resolve, 125));
  }
  const { value } = await fulfilmentWithin(
    readable.getReader().read(),
    BOUND_MS,
    "read",
  );
  assert.equal((value as Uint8Array).byteLength, 40_000);
  handshake.connection.close();
  await stream.closed.catch(() => {});
});

Deno.test("node server: below Deno 2.8 handleUpgrade fails with an error that says so, and writes nothing", () => {
  const real = Deno.version;
  let written = false;
  const socket = { end: () => (written = true) } as unknown as Duplex;
  Object.defineProperty(Deno, "version", {
    value: { ...real, deno: "2.7.9" },
    configurable: true,
    writable: true,
  });
  try {
    assert.throws(
      () =>
        handleUpgrade(
          {} as unknown as IncomingMessage,
          socket,
          new Uint8Array(),
        ),
      { name: "Error", message: /Deno 2\.8 or later.*running Deno 2\.7\.9/ },
    );
  } finally {
    Object.defineProperty(Deno, "version", {
      value: real,
      configurable: true,
      writable: true,
    });
  }
  assert.equal(written, false);
});

Deno.test("LIM-04 node server: a message longer than receiveLimit closes with the overflowCloseCode, after the messages before it", async () => {
  await using server = await startNodeStreamServer({
    receiveLimit: 64 * 1024,
    overflowCloseCode: 1009,
  });
  const client = new WebSocketStream(server.url, { transport: "socket" });
  const stream = await server.accept();
  const { readable } = await stream.opened;
  const { writable } = await client.opened;
  const writer = writable.getWriter();
  for (let i = 0; i < 10; i++) await writer.write(new Uint8Array(64 * 1024));
  await writer.write(new Uint8Array(64 * 1024 + 1));
  const reader = readable.getReader();
  for (let i = 0; i < 10; i++) {
    const { value } = await fulfilmentWithin(reader.read(), BOUND_MS, "read");
    assert.equal((value as Uint8Array).byteLength, 64 * 1024);
  }
  const error = await rejectionWithin(reader.read(), BOUND_MS, "last read");
  webSocketError(1009, { message: /a single message was longer/ })(error);
  assert.deepEqual(
    await fulfilmentWithin(client.closed, BOUND_MS, "client closed"),
    { closeCode: 1009, reason: "Receive queue limit exceeded" },
  );
  assert.equal(
    await rejectionWithin(stream.closed, BOUND_MS, "server closed"),
    error,
  );
});

Deno.test("SRV-02 node server: on node:https the stream's url is wss:, and a socket-transport client echoes through TLS", async () => {
  const server = createHttpsServer(await readTestCertificate());
  const streams: WebSocketStream[] = [];
  server.on("upgrade", (request, socket, head) => {
    const stream = handleUpgrade(request, socket, head);
    if (stream === undefined) return;
    streams.push(stream);
    echo(stream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  try {
    await assertTlsEcho(`wss://localhost:${port}/secure`);
    assert.equal(streams[0]?.url, `wss://localhost:${port}/secure`);
    await fulfilmentWithin(streams[0]!.closed, BOUND_MS, "server closed");
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

Deno.test("node server: a late handleUpgrade on a socket whose client already left ends the stream with 1006 instead of hanging", async () => {
  const server = createServer();
  const streams = Promise.withResolvers<WebSocketStream>();
  server.on("upgrade", (request, socket: Duplex, head) => {
    // As after an asynchronous check: the client is gone by the time the
    // upgrade is handled, and the socket's end was already told.
    const handle = () =>
      streams.resolve(
        handleUpgrade(request, socket, head, { idleTimeout: 0 })!,
      );
    if (socket.readableEnded) handle();
    else socket.once("end", handle);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(
      new TextEncoder().encode(
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      ),
    );
    conn.close();
    const stream = await fulfilmentWithin(streams.promise, BOUND_MS, "stream");
    webSocketError(1006)(
      await rejectionWithin(stream.closed, BOUND_MS, "closed"),
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

/**
 * A `node:https` server that hands its upgrades to `handleUpgrade` with
 * `options`, and a raw TLS client whose upgrade request it took: the
 * stream, and the client's connection to write frames on and read from.
 */
async function httpsUpgrade(options: HandleUpgradeOptions) {
  const tls = new URL("./fixtures/tls/", import.meta.url);
  const server = createHttpsServer(await readTestCertificate());
  const streams = Promise.withResolvers<WebSocketStream>();
  const sockets: Duplex[] = [];
  server.on("upgrade", (request, socket: Duplex, head) => {
    sockets.push(socket);
    streams.resolve(handleUpgrade(request, socket, head, options)!);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port,
    caCerts: [await Deno.readTextFile(new URL("ca.pem", tls))],
  });
  const close = async () => {
    conn.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  try {
    await writeAll(
      conn,
      new TextEncoder().encode(
        "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      ),
    );
    const stream = await fulfilmentWithin(streams.promise, BOUND_MS, "stream");
    return { conn, stream, [Symbol.asyncDispose]: close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Deno 2.9.6's `node:tls` keeps reading from TCP while a TLS socket is paused
 * and holds what arrives outside the JS heap, so on `node:https` pausing
 * cannot slow a client down: there the receive limit bounds what waits for
 * the handler, as on `Deno.serve`.
 */
Deno.test("BP-01 node server: on node:https a handler that does not read ends a client that sends past receiveLimit with overflowCloseCode, as Deno's node:tls cannot pause", async () => {
  const receiveLimit = 4 * MiB;
  await using client = await httpsUpgrade({ idleTimeout: 0, receiveLimit });
  const { conn, stream } = client;
  const { readable } = await stream.opened;
  // Far more than the limit: without a bound the server would hold it all.
  const frame = encodeFrame(Opcode.binary, new Uint8Array(MiB), {
    mask: MASK,
  });
  const sending = (async () => {
    for (let sent = 0; sent < 64; sent++) await writeAll(conn, frame);
  })().catch(() => {/* the server may hang up while we write */});
  // The client is told why: a Close with 4009 (after the 101 answer),
  // which it answers.
  const close = [0x88, 30, 0x0f, 0xa9];
  const reading = (async () => {
    const received: Uint8Array[] = [];
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) return false;
      received.push(buffer.slice(0, n));
      const bytes = concat(received);
      if (bytes.some((_, at) => close.every((b, i) => bytes[at + i] === b))) {
        await writeAll(conn, encodeClientFrame(Opcode.close)).catch(() => {});
        return true;
      }
    }
  })();
  await rejectionWithin(stream.closed, BOUND_MS, "closed").then(
    webSocketError(4009),
  );
  assert.ok(
    await fulfilmentWithin(reading, BOUND_MS, "the client's reads"),
    "the client got no Close frame with 4009",
  );
  await sending;
  // What arrived within the limit is still read, then the error.
  const reader = readable.getReader();
  let read = 0;
  await assert.rejects(async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      read += (value as Uint8Array).byteLength;
    }
  }, webSocketError(4009));
  assert.ok(read <= receiveLimit + MiB, `${read} bytes were read`);
});

Deno.test("PRO-06 node server: on node:https a client that sends Pings faster than it reads the Pongs is failed, not held in memory", async () => {
  await using client = await httpsUpgrade({ idleTimeout: 0 });
  const { conn, stream } = client;
  await stream.opened;
  // Pings the client never reads the Pongs of: far more than TCP holds.
  const ping = encodeClientFrame(Opcode.ping, new Uint8Array(125));
  const pings = concat(Array.from({ length: 8192 }, () => ping));
  const sending = (async () => {
    for (let sent = 0; sent < 32; sent++) await writeAll(conn, pings);
  })().catch(() => {/* the server hangs up while we write */});
  webSocketError(1006, { message: /Pings faster than it read the Pongs/ })(
    await rejectionWithin(stream.closed, BOUND_MS, "closed"),
  );
  await sending;
});

Deno.test("RD-03 node server: binary messages that share TCP reads keep their bytes, each in memory of its own", async () => {
  await using server = await startNodeStreamServer();
  using handshake = await rawHandshake(server.port);
  const stream = await server.accept();
  const { readable } = await stream.opened;
  // Short and long messages and a Ping, in one write: reads cut them
  // anywhere, and a long one takes up the read a short one came in.
  const sizes = [1000, 100_000, 20_000, 20_000, 5, 70_000, 30_000, 300];
  const messages = sizes.map((size, m) =>
    new Uint8Array(size).map((_, i) => (i * 31 + m) & 0xff)
  );
  const frames = messages.map((message) =>
    encodeClientFrame(Opcode.binary, message)
  );
  frames.splice(2, 0, encodeClientFrame(Opcode.ping, "still here"));
  await writeAll(handshake.connection.conn, concat(frames));
  const reader = readable.getReader();
  const received: Uint8Array[] = [];
  for (const _ of messages) {
    received.push((await reader.read()).value as Uint8Array);
  }
  // Compared only once all are read: taking a later one must not have
  // moved or reused the memory of one already given out.
  assert.deepEqual(received, messages);
  for (const message of received) {
    assert.equal(message.byteOffset, 0);
    assert.equal(message.buffer.byteLength, message.byteLength);
  }
  const pong = await readUntil(handshake.connection, Opcode.pong);
  assert.equal(new TextDecoder().decode(pong!), "still here");
  stream.close();
});
