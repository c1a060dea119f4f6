/**
 * The client over `transport: "socket"`, where this package speaks RFC 6455
 * itself: what it must do that Deno's `WebSocket` did for it (handshake,
 * framing, pings, protocol errors) and what it does better (receive
 * backpressure, 1006 for a dropped connection). Peers are Deno's own server
 * and the raw server, never this package.
 */

import assert from "node:assert/strict";
import { WebSocketStream } from "../mod.ts";
import {
  BOUND_MS,
  delay,
  fulfilmentWithin,
  rejectionWithin,
  webSocketError,
} from "./_assert.ts";
import { concat, MiB } from "./_bytes.ts";
import {
  closeDuringWrite,
  closePayload,
  encodeFrame,
  Opcode,
  startRawServer,
  writeAll,
} from "./_raw_server.ts";
import {
  assertTlsEcho,
  readTestCertificate,
  runTlsClient,
} from "./_tls_client.ts";
import { readUntil, readUntilClose } from "./_raw_client.ts";
import {
  PROTOCOL_VIOLATIONS,
  type ProtocolViolation,
  serverFrame,
} from "./_protocol_violations.ts";
import { runDeno } from "./_subprocess.ts";
import { echoResponse, serve, startWptServer } from "./_wpt_server.ts";

const SOCKET = { transport: "socket" } as const;

/** The client's Close as the peer read it, `null` when none came. */
type PeerClose = Awaited<ReturnType<typeof readUntilClose>>;

Deno.test("socket transport: text, binary and messages longer than its read buffer round-trip through Deno's server", async () => {
  await using server = startWptServer();
  const wss = new WebSocketStream(`${server.url}/echo`, SOCKET);
  const { readable, writable } = await fulfilmentWithin(
    wss.opened,
    BOUND_MS,
    "opened",
  );
  const writer = writable.getWriter();
  const reader = readable.getReader();
  const big = new Uint8Array(3 * MiB).map((_, i) => i * 7);
  const messages: (string | Uint8Array)[] = [
    "",
    "héllo wörld 🦕",
    new Uint8Array(0),
    new Uint8Array([0, 255, 1]),
    new Uint8Array(70_000).fill(9),
    "ü".repeat(100_000),
    big,
  ];
  for (const message of messages) {
    await writer.write(message);
    const { value } = await fulfilmentWithin(reader.read(), BOUND_MS, "read");
    assert.deepEqual(value, message);
  }
  wss.close({ closeCode: 4000, reason: "done" });
  assert.deepEqual(await wss.closed, { closeCode: 4000, reason: "done" });
});

Deno.test("socket transport: a client whose server declines compression never reaches Node's process, which holds zlib", async () => {
  const { code, text, stderr } = await runDeno([
    "run",
    "--allow-net=127.0.0.1",
    new URL("./fixtures/echo_counting_process.ts", import.meta.url).pathname,
    "socket",
  ]);
  assert.equal(code, 0, stderr);
  assert.equal(text, "process reached 0 times\n");
});

Deno.test("CTR-20 socket transport: on Deno 2.0, which offers no compression, a server that accepts permessage-deflate fails the handshake", async () => {
  const { code, text, stderr } = await runDeno([
    "run",
    "--allow-net=127.0.0.1",
    "--allow-read",
    new URL("./fixtures/old_deno_extension_answer.ts", import.meta.url)
      .pathname,
  ]);
  assert.equal(code, 0, stderr);
  assert.match(
    text,
    /^opened rejected: .*extensions "permessage-deflate", which were not offered\n$/,
  );
});

Deno.test("HSK-01 CTR-12 CTR-20 socket transport: the handshake carries the path, query, host, offered protocols and extra headers", async () => {
  let request = "";
  await using server = startRawServer(async (connection) => {
    request = connection.request;
    await connection.sendClose(1000);
    await readUntilClose(connection);
  }, { responseHeaders: ["Sec-WebSocket-Protocol: beta"] });
  const wss = new WebSocketStream(`${server.url}/chat/room?id=7`, {
    ...SOCKET,
    protocols: ["alpha", "beta"],
    headers: { authorization: "Bearer token" },
  });
  const { protocol, extensions } = await fulfilmentWithin(
    wss.opened,
    BOUND_MS,
    "opened",
  );
  assert.equal(protocol, "beta");
  assert.equal(extensions, "");
  assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "" });
  assert.match(request, /^GET \/chat\/room\?id=7 HTTP\/1\.1\r\n/);
  assert.match(
    request,
    new RegExp(`^host: 127\\.0\\.0\\.1:${server.port}\r?$`, "im"),
  );
  assert.match(request, /^upgrade: websocket\r?$/im);
  assert.match(request, /^sec-websocket-version: 13\r?$/im);
  assert.match(request, /^sec-websocket-key: [A-Za-z0-9+/]{22}==\r?$/im);
  assert.match(request, /^sec-websocket-protocol: alpha, beta\r?$/im);
  assert.match(request, /^authorization: Bearer token\r?$/im);
});

Deno.test("PRO-05 PRO-04 socket transport: fragments are joined, a UTF-8 character split across them survives, and pings between them are answered", async () => {
  let pong: Uint8Array | undefined;
  await using server = startRawServer(async (connection) => {
    const text = new TextEncoder().encode("a🦕b");
    await writeAll(
      connection.conn,
      concat([
        encodeFrame(Opcode.text, text.subarray(0, 3), { fin: false }),
        encodeFrame(Opcode.ping, "are you there"),
        encodeFrame(Opcode.continuation, text.subarray(3, 4), { fin: false }),
        encodeFrame(Opcode.continuation, text.subarray(4)),
        encodeFrame(Opcode.binary, new Uint8Array([1]), { fin: false }),
        encodeFrame(Opcode.continuation, new Uint8Array([2, 3])),
      ]),
    );
    const frame = await connection.readFrame();
    if (frame?.opcode === Opcode.pong) pong = frame.payload;
    await connection.sendClose(1000);
    await readUntilClose(connection);
  });
  const wss = new WebSocketStream(server.url, SOCKET);
  const { readable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  const received = [];
  for await (const message of readable) received.push(message);
  assert.deepEqual(received, ["a🦕b", new Uint8Array([1, 2, 3])]);
  assert.equal(new TextDecoder().decode(pong), "are you there");
  assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "" });
});

Deno.test("BP-01 socket transport: a reader that falls behind slows the peer down through TCP instead of overflowing", async () => {
  const messageBytes = 64 * 1024;
  const count = 1024; // 64 MiB, far past the 1 MiB receive limit below
  let written = 0;
  await using server = startRawServer(async (connection) => {
    for (let i = 0; i < count; i++) {
      const payload = new Uint8Array(messageBytes);
      new DataView(payload.buffer).setUint32(0, i);
      await writeAll(connection.conn, encodeFrame(Opcode.binary, payload));
      written += messageBytes;
    }
    await connection.sendClose(1000, "all sent");
    await readUntilClose(connection);
  });
  const wss = new WebSocketStream(server.url, {
    ...SOCKET,
    receiveLimit: 1 * MiB,
  });
  const { readable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  const reader = readable.getReader();
  await fulfilmentWithin(reader.read(), BOUND_MS, "first read");
  await delay(300);
  // Only the two sockets' buffers and one read buffer's worth can be in
  // flight while nobody reads.
  const stalledAt = written;
  assert.ok(
    stalledAt < 32 * MiB,
    `the peer wrote ${stalledAt} bytes to a reader that took one message`,
  );
  let next = 1;
  for (;;) {
    const { value, done } = await fulfilmentWithin(
      reader.read(),
      BOUND_MS,
      `read ${next}`,
    );
    if (done) break;
    const bytes = value as Uint8Array;
    assert.equal(bytes.byteLength, messageBytes);
    assert.equal(new DataView(bytes.buffer).getUint32(0), next);
    next++;
  }
  assert.equal(next, count);
  assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "all sent" });
});

Deno.test("LIM-01 socket transport: a message longer than receiveLimit overflows even with a reader waiting, after the messages before it", async () => {
  let peerClose: PeerClose | undefined;
  await using server = startRawServer(async (connection) => {
    await connection.writeFrame(Opcode.text, "first");
    await connection.writeFrame(Opcode.binary, new Uint8Array(4 * MiB));
    peerClose = await readUntilClose(connection);
    await connection.sendClose(peerClose?.code);
  });
  const wss = new WebSocketStream(server.url, {
    ...SOCKET,
    receiveLimit: 1 * MiB,
  });
  const { readable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  const reader = readable.getReader();
  assert.deepEqual(await reader.read(), { value: "first", done: false });
  const error = await rejectionWithin(reader.read(), BOUND_MS, "read");
  webSocketError(4009, {
    message: /receive queue limit of 1048576 bytes exceeded: a single message/,
  })(error);
  assert.equal(await rejectionWithin(wss.closed, BOUND_MS, "closed"), error);
  assert.deepEqual(peerClose, {
    code: 4009,
    reason: "Receive queue limit exceeded",
  });
});

Deno.test("PRO-01 CLD-03 socket transport: the peer's Close is answered with its code, and an empty Close gives 1005", async () => {
  const closes = [
    [4321, "später"],
    [1010, "a client's code, received all the same"],
    [undefined, ""],
  ] as const;
  for (const [code, reason] of closes) {
    let answer: PeerClose | undefined;
    await using server = startRawServer(async (connection) => {
      await connection.sendClose(code, reason);
      answer = await readUntilClose(connection);
    });
    const wss = new WebSocketStream(server.url, SOCKET);
    assert.deepEqual(
      await fulfilmentWithin(wss.closed, BOUND_MS, "closed"),
      { closeCode: code ?? 1005, reason },
    );
    await server.close();
    assert.equal(answer?.code, code);
  }
});

Deno.test("CLD-05 socket transport: a peer that drops TCP instead of answering our Close gives 1006", async () => {
  await using server = startRawServer(async (connection) => {
    await readUntilClose(connection);
  });
  const wss = new WebSocketStream(server.url, SOCKET);
  await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  wss.close({ closeCode: 4000 });
  webSocketError(1006, {
    message: /closed the connection without a Close frame/,
  })(await rejectionWithin(wss.closed, BOUND_MS, "closed"));
});

Deno.test("CLD-09 socket transport: closeTimeout drops a peer that never answers our Close", async () => {
  await using server = startRawServer(async (connection) => {
    await readUntilClose(connection);
    await connection.drainUntilEnd();
  });
  const wss = new WebSocketStream(server.url, { ...SOCKET, closeTimeout: 200 });
  await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  wss.close();
  webSocketError(1006, { message: /within 200 ms/ })(
    await rejectionWithin(wss.closed, BOUND_MS, "closed"),
  );
});

/** Frames a server must not send, what the client answers, and why. */
const PROTOCOL_ERRORS: readonly ProtocolViolation[] = [
  {
    what: "a masked frame",
    bytes: () =>
      encodeFrame(Opcode.text, "x", { mask: new Uint8Array([1, 2, 3, 4]) }),
    closeCode: 1002,
    message: /masked frame/,
  },
  ...PROTOCOL_VIOLATIONS,
];

for (const { what, bytes, closeCode, message } of PROTOCOL_ERRORS) {
  Deno.test(`PRO-02 socket transport: ${what} fails the connection with 1006, and the peer is told ${closeCode}, then TCP ends`, async () => {
    let peerClose: PeerClose | undefined;
    let endedAfterClose = false;
    await using server = startRawServer(async (connection) => {
      await writeAll(connection.conn, bytes(serverFrame));
      peerClose = await readUntilClose(connection);
      endedAfterClose = await connection.readFrame() === null;
    });
    const wss = new WebSocketStream(server.url, SOCKET);
    const { readable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
    const error = await rejectionWithin(wss.closed, BOUND_MS, "closed");
    webSocketError(1006, { message })(error);
    await assert.rejects(readable.getReader().read(), (e) => e === error);
    await server.close();
    assert.equal(peerClose?.code, closeCode);
    assert.ok(endedAfterClose, "nothing follows the Close, and TCP ends");
  });
}

/** Handshake answers a client must refuse, and what it says about each. */
const BAD_ANSWERS: [string, (request: string) => string, RegExp][] = [
  [
    "404",
    () => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    /answered 404 Not Found instead of 101/,
  ],
  [
    "a wrong Sec-WebSocket-Accept",
    () =>
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk=\r\n\r\n",
    /Sec-WebSocket-Accept does not match the key sent: expected "[^"]+", received "bm90IHRoZSByaWdodCBrZXk="/,
  ],
  [
    "Upgrade: h2c",
    () =>
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    /has Upgrade: "h2c" instead of websocket/,
  ],
  [
    "Connection: keep-alive",
    () =>
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n\r\n",
    /has Connection: "keep-alive", without Upgrade/,
  ],
  [
    "no Upgrade header",
    () =>
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n",
    /lacks Upgrade: websocket/,
  ],
  [
    "whitespace before a header's colon",
    () => "HTTP/1.1 101 Switching Protocols\r\nUpgrade : websocket\r\n\r\n",
    /malformed header line/,
  ],
  [
    "not HTTP",
    () => "SSH-2.0-OpenSSH_9.2\r\n\r\n",
    /did not answer with HTTP\/1\.1/,
  ],
];

for (const [what, respond, message] of BAD_ANSWERS) {
  Deno.test(`OPN-04 HSK-02 socket transport: a handshake answer with ${what} rejects both promises with WebSocketError`, async () => {
    await using server = startRawServer(async () => {}, { respond });
    const wss = new WebSocketStream(server.url, SOCKET);
    const opened = await rejectionWithin(wss.opened, BOUND_MS, "opened");
    webSocketError(null, { message })(opened);
    webSocketError(1006, { message })(
      await rejectionWithin(wss.closed, BOUND_MS, "closed"),
    );
  });
}

Deno.test("CTR-20 socket transport: an extension or subprotocol that was not offered fails the handshake", async () => {
  for (
    const [header, message] of [
      ["Sec-WebSocket-Extensions: x-webkit-deflate-frame", /extensions/],
      ["Sec-WebSocket-Protocol: chat", /subprotocol "chat"/],
    ] as const
  ) {
    await using server = startRawServer(
      (connection) => connection.drainUntilEnd(),
      { responseHeaders: [header] },
    );
    const wss = new WebSocketStream(server.url, SOCKET);
    webSocketError(null, { message })(
      await rejectionWithin(wss.opened, BOUND_MS, "opened"),
    );
    await rejectionWithin(wss.closed, BOUND_MS, "closed");
  }
});

Deno.test("WR-07 socket transport: writes wait while a peer that does not read leaves no room, and close() still ends it", async () => {
  await using server = startRawServer(async (connection) => {
    await delay(300);
    await connection.drainUntilEnd();
  });
  const wss = new WebSocketStream(server.url, {
    ...SOCKET,
    writeHighWaterMark: 256 * 1024,
    closeTimeout: 200,
  });
  const { writable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  const writer = writable.getWriter();
  let resolved = 0;
  const chunk = new Uint8Array(64 * 1024);
  const writing = (async () => {
    for (let i = 0; i < 2048; i++) {
      await writer.write(chunk);
      resolved++;
    }
  })();
  await delay(200);
  const stalledAt = resolved;
  assert.ok(
    stalledAt < 1024,
    `${stalledAt} writes of 64 KiB resolved while the peer read nothing`,
  );
  // The peer reads again: every write completes.
  await fulfilmentWithin(writing, BOUND_MS * 2, "all writes");
  wss.close({ closeCode: 4000 });
  await rejectionWithin(wss.closed, BOUND_MS, "closed");
});

Deno.test("OPT-01 socket transport: an unknown transport or a header the handshake owns is a TypeError", () => {
  assert.throws(
    () =>
      new WebSocketStream("ws://127.0.0.1:9/", {
        transport: "tcp" as "socket",
      }),
    {
      name: "TypeError",
      message:
        /options\.transport must be "websocket" or "socket", received "tcp"/,
    },
  );
  assert.throws(
    () =>
      new WebSocketStream("ws://127.0.0.1:9/", {
        ...SOCKET,
        headers: { "Sec-WebSocket-Key": "x" },
      }),
    { name: "TypeError", message: /cannot set sec-websocket-key/ },
  );
});

Deno.test("socket transport: wss connects over TLS and verifies the server's certificate against the trusted roots", async () => {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    ...await readTestCertificate(),
    onListen() {},
  }, (request) => echoResponse(request));
  try {
    const url = `wss://localhost:${server.addr.port}/`;
    await assertTlsEcho(url);
    const untrusted = await runTlsClient(url, false);
    assert.equal(untrusted.error, "WebSocketError");
    assert.match(`${untrusted.message}`, /certificate/i);
  } finally {
    await server.shutdown();
  }
});

Deno.test("socket transport: a message just longer than the free read buffer, with the next frame in the same read, arrives intact", async () => {
  // The read buffer starts at 4 KiB; these payloads do not fit in what is
  // left of it once a header is in, and each arrives together with the next
  // frame.
  for (const size of [3819, 3900, 4000, 4092]) {
    const payload = new Uint8Array(size).map((_, i) => i);
    await using server = startRawServer(async (connection) => {
      // Let the client read the handshake answer on its own first.
      await delay(20);
      await writeAll(
        connection.conn,
        concat([
          encodeFrame(Opcode.binary, payload),
          encodeFrame(Opcode.text, "next"),
          encodeFrame(Opcode.close, closePayload(1000)),
        ]),
      );
      await readUntilClose(connection);
    });
    const wss = new WebSocketStream(server.url, SOCKET);
    const { readable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
    const received = [];
    for await (const message of readable) received.push(message);
    assert.deepEqual(received, [payload, "next"], `${size} bytes`);
    assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "" });
  }
});

Deno.test("LIM-02 socket transport: a flood of empty fragments counts against receiveLimit and overflows instead of growing", async () => {
  let peerClose: PeerClose | undefined;
  await using server = startRawServer(async (connection) => {
    const empty = encodeFrame(Opcode.continuation, new Uint8Array(0), {
      fin: false,
    });
    await writeAll(
      connection.conn,
      concat([
        encodeFrame(Opcode.binary, new Uint8Array(0), { fin: false }),
        ...Array.from({ length: 20_000 }, () => empty),
        // Ends the message and the connection, so that a client that let it
        // all in fails this test instead of hanging.
        encodeFrame(Opcode.continuation, new Uint8Array(0)),
        encodeFrame(Opcode.close, closePayload(1000)),
      ]),
    );
    peerClose = await readUntilClose(connection);
  });
  const wss = new WebSocketStream(server.url, {
    ...SOCKET,
    receiveLimit: 1 * MiB,
  });
  await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  webSocketError(4009, { message: /a single message was longer than that/ })(
    await rejectionWithin(wss.closed, BOUND_MS, "closed"),
  );
  await server.close();
  assert.equal(peerClose?.code, 4009);
});

Deno.test("LIM-03 socket transport: a frame announcing 2^52 bytes is skipped as it arrives, never allocated", async () => {
  await using server = startRawServer(async (connection) => {
    const header = new Uint8Array([0x82, 0x7f, 0, 0x10, 0, 0, 0, 0, 0, 0]);
    await writeAll(connection.conn, concat([header, new Uint8Array(1000)]));
    await readUntilClose(connection);
  });
  const wss = new WebSocketStream(server.url, SOCKET);
  const { readable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  const error = await rejectionWithin(
    readable.getReader().read(),
    BOUND_MS,
    "read",
  );
  webSocketError(4009, { message: /a single message was longer/ })(error);
  assert.equal(await rejectionWithin(wss.closed, BOUND_MS, "closed"), error);
});

Deno.test("PRO-04 socket transport: ten Pings back to back get ten Pongs, in order, before our Close", async () => {
  const pongs: string[] = [];
  const sent = Array.from({ length: 10 }, (_, i) => `${i}`);
  await using server = startRawServer(async (connection) => {
    await writeAll(
      connection.conn,
      concat(sent.map((n) => encodeFrame(Opcode.ping, n))),
    );
    for (;;) {
      const frame = await connection.readFrame();
      if (frame === null || frame.opcode === Opcode.close) break;
      if (frame.opcode === Opcode.pong) {
        pongs.push(new TextDecoder().decode(frame.payload));
        if (pongs.length === sent.length) {
          await connection.writeFrame(Opcode.text, "go");
        }
      }
    }
    await connection.sendClose(1000);
  });
  const wss = new WebSocketStream(server.url, SOCKET);
  const { readable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  await fulfilmentWithin(readable.getReader().read(), BOUND_MS, "read");
  wss.close();
  await fulfilmentWithin(wss.closed, BOUND_MS, "closed");
  assert.deepEqual(pongs, sent);
});

Deno.test("PRO-06 socket transport: a server that pings faster than it reads the Pongs is read no further until they leave, and every Ping is answered", async () => {
  // Far more Pings, and Pongs, than TCP holds both ways.
  const count = 200_000;
  let stalled: boolean | undefined;
  let pongs = 0;
  await using server = startRawServer(async (connection) => {
    const ping = encodeFrame(Opcode.ping, new Uint8Array(125));
    const writing = writeAll(
      connection.conn,
      concat(Array.from({ length: count }, () => ping)),
    );
    stalled = await Promise.race([
      writing.then(() => false),
      delay(500).then(() => true),
    ]);
    while (pongs < count) {
      const frame = await connection.readFrame();
      if (frame === null) break;
      if (frame.opcode === Opcode.pong) pongs++;
    }
    await writing;
    await connection.sendClose(1000);
    await readUntilClose(connection);
  });
  const wss = new WebSocketStream(server.url, SOCKET);
  await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  await fulfilmentWithin(wss.closed, 4 * BOUND_MS, "closed");
  await server.close();
  assert.equal(
    stalled,
    true,
    "the Pings were all taken without their Pongs read",
  );
  assert.equal(pongs, count);
});

Deno.test("PRO-03 socket transport: after the closing handshake the client waits for the server to close TCP", async () => {
  let clientHungUpFirst: boolean | undefined;
  await using server = startRawServer(async (connection) => {
    await readUntilClose(connection);
    await connection.sendClose(4000);
    const read = connection.conn.read(new Uint8Array(16));
    const outcome = await Promise.race([
      read.then(() => "ended", () => "ended"),
      delay(200).then(() => "still open"),
    ]);
    clientHungUpFirst = outcome === "ended";
    connection.close();
    await read.catch(() => {});
  });
  const wss = new WebSocketStream(server.url, SOCKET);
  await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  wss.close({ closeCode: 4000 });
  assert.deepEqual(
    await fulfilmentWithin(wss.closed, BOUND_MS, "closed"),
    { closeCode: 4000, reason: "" },
  );
  await server.close();
  assert.equal(clientHungUpFirst, false);
});

Deno.test("socket transport: a write that fails while reading is paused settles closed at once, not after the reader catches up", async () => {
  await using server = startRawServer(async (connection) => {
    await writeAll(
      connection.conn,
      concat(["a", "b", "c"].map((text) => encodeFrame(Opcode.text, text))),
    );
    await delay(100);
    // Closing with the client's data unread makes the kernel send a reset.
    connection.close();
  });
  const wss = new WebSocketStream(server.url, SOCKET);
  const { writable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  const writer = writable.getWriter();
  const writing = (async () => {
    for (let i = 0; i < 200; i++) {
      await writer.write(new Uint8Array(64 * 1024));
      await delay(5);
    }
  })();
  const [closed] = await Promise.all([
    rejectionWithin(wss.closed, BOUND_MS, "closed"),
    rejectionWithin(writing, BOUND_MS, "writes"),
  ]);
  webSocketError(1006)(closed);
});

Deno.test("HSK-03 socket transport: a folded header in the answer is unfolded", async () => {
  await using server = startRawServer(async (connection) => {
    await connection.sendClose(1000);
    await readUntilClose(connection);
  }, { responseHeaders: ["Sec-WebSocket-Protocol:", " chat"] });
  const wss = new WebSocketStream(server.url, {
    ...SOCKET,
    protocols: ["chat"],
  });
  const { protocol } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  assert.equal(protocol, "chat");
  await fulfilmentWithin(wss.closed, BOUND_MS, "closed");
});

Deno.test("HSK-03 socket transport: an answer cut across TCP segments, with frames in the segment that ends it, loses nothing", async () => {
  let pong: Uint8Array | null = null;
  await using server = startRawServer(async (connection) => {
    pong = await readUntil(connection, Opcode.pong);
    await readUntilClose(connection);
  }, {
    async writeResponse(conn, response) {
      // The blank line that ends the head comes later, with the first frames.
      const cut = response.byteLength - 2;
      await writeAll(conn, response.subarray(0, cut));
      await delay(50);
      await writeAll(
        conn,
        concat([
          response.subarray(cut),
          encodeFrame(Opcode.text, "first"),
          encodeFrame(Opcode.ping, "still there?"),
          encodeFrame(Opcode.binary, new Uint8Array([1, 2, 3])),
          encodeFrame(Opcode.close, closePayload(1000)),
        ]),
      );
    },
  });
  const wss = new WebSocketStream(server.url, SOCKET);
  const { readable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  const received = await fulfilmentWithin(
    Array.fromAsync(readable),
    BOUND_MS,
    "the messages",
  );
  assert.deepEqual(received, ["first", new Uint8Array([1, 2, 3])]);
  assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "" });
  await server.close();
  assert.equal(new TextDecoder().decode(pong!), "still there?");
});

Deno.test("WR-11 socket transport: the peer's Close during a write that never completes is an unclean close with the peer's code", async () => {
  await using server = startRawServer(closeDuringWrite(4567, "stop"));
  const wss = new WebSocketStream(server.url, SOCKET);
  const { writable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  const writer = writable.getWriter();
  await writer.write("hello");
  const big = writer.write(new Uint8Array(32 * MiB));
  const [closed, write] = await Promise.all([
    rejectionWithin(wss.closed, BOUND_MS, "closed"),
    rejectionWithin(big, BOUND_MS, "the 32 MiB write"),
  ]);
  webSocketError(4567, { reason: "stop" })(closed);
  assert.ok(write instanceof DOMException, `${write}`);
});

Deno.test("CLS-12 socket transport: what a server had already sent when we closed is read through and dropped, and the close is clean", async () => {
  await using server = serve((request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onopen = () => {
      for (let i = 0; i < 256; i++) socket.send(new Uint8Array(64 * 1024));
    };
    return response;
  });
  // A backlog of 16 MiB far past what may arrive after a Close at this limit.
  const wss = new WebSocketStream(server.url, {
    ...SOCKET,
    receiveLimit: 1 * MiB,
  });
  const { readable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  for await (const _ of readable) break;
  assert.deepEqual(
    await fulfilmentWithin(wss.closed, BOUND_MS, "closed"),
    { closeCode: 1005, reason: "" },
  );
});

Deno.test("CLD-02 socket transport: a peer's Close that arrives before our queued message was sent makes the close unclean", async () => {
  await using server = startRawServer(async (connection) => {
    await connection.readMessage();
    await connection.sendClose(4567, "early");
    // Reads on, so that our message and Close can leave in full.
    await readUntilClose(connection);
  });
  const wss = new WebSocketStream(server.url, {
    ...SOCKET,
    writeHighWaterMark: 64 * MiB,
  });
  const { writable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  const writer = writable.getWriter();
  await writer.write("hello");
  // Below the high-water mark: the write resolves while the bytes wait.
  writer.write(new Uint8Array(8 * MiB)).catch(() => {});
  webSocketError(4567, { reason: "early" })(
    await rejectionWithin(wss.closed, BOUND_MS, "closed"),
  );
});

Deno.test("PRO-02 socket transport: invalid UTF-8 in a fragmented text message fails with 1007 at the frame that carries it", async () => {
  let peerClose: PeerClose | undefined;
  await using server = startRawServer(async (connection) => {
    await connection.writeFrame(Opcode.text, "fine ", false);
    await connection.writeFrame(
      Opcode.continuation,
      new Uint8Array([0xc3, 0x28]),
      false,
    );
    // The message never ends: only a check per frame can fail it.
    peerClose = await readUntilClose(connection);
  });
  const wss = new WebSocketStream(server.url, SOCKET);
  await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  webSocketError(1006, { message: /not valid UTF-8/ })(
    await rejectionWithin(wss.closed, BOUND_MS, "closed"),
  );
  await server.close();
  assert.equal(peerClose?.code, 1007);
});

Deno.test("LIM-05 socket transport: a message of exactly receiveLimit bytes (the default 16 MiB) is delivered", async () => {
  const payload = new Uint8Array(16 * MiB).fill(5);
  await using server = startRawServer(async (connection) => {
    await connection.writeFrame(Opcode.binary, payload);
    await readUntilClose(connection);
    await connection.sendClose(1000);
  });
  const wss = new WebSocketStream(server.url, SOCKET);
  const { readable } = await fulfilmentWithin(wss.opened, BOUND_MS, "opened");
  const { value } = await fulfilmentWithin(
    readable.getReader().read(),
    BOUND_MS,
    "read",
  );
  assert.equal((value as Uint8Array).byteLength, 16 * MiB);
  wss.close();
  await fulfilmentWithin(wss.closed, BOUND_MS, "closed");
});
