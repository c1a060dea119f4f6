/**
 * The node server path: `handleUpgrade` on a `node:http` server, where this
 * package speaks RFC 6455 as the server over the upgrade socket. Handshakes,
 * refusals, echo, close codes both ways, protocol errors from raw clients,
 * keepalive, and backpressure through TCP to a client that sends faster
 * than the handler reads.
 */

import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketStream } from "../mod.ts";
import { handleUpgrade } from "../node.ts";
import {
  BOUND_MS,
  fulfilmentWithin,
  rejectionWithin,
  webSocketError,
} from "./_assert.ts";
import { startNodeStreamServer } from "./_node_stream_server.ts";
import { Opcode, parseClosePayload } from "./_raw_server.ts";
import {
  rawHandshake,
  readUntil,
  readUntilClose,
  writeClientFrame,
} from "./_raw_client.ts";
import { echo } from "./_stream_server.ts";

for (const transport of ["websocket", "socket"] as const) {
  Deno.test(`node server: a ${transport} client's handshake selects the protocol, and text and binary echo`, async () => {
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
  Deno.test(`node server: ${what} is refused with ${status}, and the socket ends`, async () => {
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
    assert.deepEqual(server.statuses, [0]);
  });
}

Deno.test("node server: a handshake without a 16-byte key, or not a GET, is refused with 400", async () => {
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

Deno.test("node server: the server's Close reaches the client with its code, and the close is clean on both ends", async () => {
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

Deno.test("node server: an unmasked client frame fails the connection with 1002", async () => {
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

Deno.test("node server: frames that arrive with the request head are read first", async () => {
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

Deno.test("node server: idleTimeout pings a silent client, then closes with 1001, uncleanly", async () => {
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

Deno.test("node server: a client that answers pings is kept past idleTimeout", async () => {
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

Deno.test("node server: handleUpgrade validates its options as upgradeWebSocketStream does", () => {
  assert.throws(
    () =>
      handleUpgrade(
        {} as unknown as IncomingMessage,
        {} as unknown as Duplex,
        new Uint8Array(),
        { idleTimeout: -1 },
      ),
    RangeError,
  );
});
