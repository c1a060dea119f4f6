/**
 * The server role against hostile clients: malformed or foreign handshakes,
 * cross-site origins, oversized messages and clients that never read. Each
 * gets the documented response or close code, and a bystander connection on
 * the same server keeps working throughout.
 */

import assert from "node:assert/strict";
import { MiB } from "./_bytes.ts";
import { WebSocketStream } from "../mod.ts";
import { Opcode, parseClosePayload } from "./_raw_server.ts";
import { rawHandshake, writeClientFrame } from "./_raw_client.ts";
import { echo } from "./_stream_server.ts";
import { type ServerPath, serverTest } from "./_server_paths.ts";
import {
  BOUND_MS,
  domException,
  fulfilmentWithin,
  rejectionWithin,
  settleWithin,
  webSocketError,
} from "./_assert.ts";
import { rawRequest } from "./_faults.ts";
import type { UpgradeWebSocketStreamOptions } from "../mod.ts";

/**
 * A server whose first connection is an echoing bystander; the test gets
 * the streams of later connections from `accept()`.
 */
async function serverWithBystander(
  path: ServerPath,
  options: UpgradeWebSocketStreamOptions,
) {
  const server = await path.start(options);
  const bystander = new WebSocketStream(server.url);
  echo(await server.accept());
  const { readable, writable } = await bystander.opened;
  const reader = readable.getReader();
  const writer = writable.getWriter();
  let round = 0;
  /** Asserts that the bystander still gets its echo. */
  const assertAlive = async () => {
    const message = `still here ${round++}`;
    await writer.write(message);
    const { value } = await fulfilmentWithin(reader.read(), BOUND_MS, "echo");
    assert.equal(value, message, "the bystander connection is unaffected");
  };
  await assertAlive();
  return {
    server,
    assertAlive,
    async [Symbol.asyncDispose]() {
      bystander.close();
      await settleWithin(bystander.closed, BOUND_MS, "bystander closed");
      await server.close();
    },
  };
}

const HOST = "Host: 127.0.0.1";
const KEY = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";
const VERSION = "Sec-WebSocket-Version: 13";
const UPGRADE = ["Upgrade: websocket", "Connection: Upgrade"];

/**
 * Requests that are not a WebSocket upgrade: a 426 and no stream, and
 * whether they are an HTTP upgrade at all (a non-empty Upgrade header and
 * Connection: Upgrade), which is what node:http hands to handleUpgrade.
 */
const notUpgrades: [string, string[], boolean][] = [
  ["a plain GET", ["GET / HTTP/1.1", HOST], false],
  ["Upgrade: h2c", [
    "GET / HTTP/1.1",
    HOST,
    "Upgrade: h2c",
    "Connection: Upgrade",
    KEY,
    VERSION,
  ], true],
  ["an empty Upgrade header", [
    "GET / HTTP/1.1",
    HOST,
    "Upgrade:",
    "Connection: Upgrade",
    KEY,
    VERSION,
  ], false],
];

for (const [what, lines, httpUpgrade] of notUpgrades) {
  serverTest(
    `SRV-06 server hostile: ${what} gets 426 Upgrade Required, and others are unaffected`,
    async (path) => {
      await using context = await serverWithBystander(path, {});
      const { status, head } = await rawRequest(context.server.port, lines);
      if (!httpUpgrade && !path.seesPlainRequests) {
        // The test server's request handler answered it.
        assert.equal(status, 200);
        assert.deepEqual(context.server.statuses, [101, 200]);
      } else {
        assert.equal(status, 426);
        assert.match(head, /^upgrade: websocket$/im);
      }
      await context.assertAlive();
    },
  );
}

/**
 * Malformed upgrade requests, which Deno.upgradeWebSocket would throw on:
 * upgradeWebSocketStream answers them with a ready 400 instead.
 */
const brokenUpgrades: [string, string[], boolean][] = [
  ["no Sec-WebSocket-Key", [
    "GET / HTTP/1.1",
    HOST,
    ...UPGRADE,
    VERSION,
  ], true],
  ["no Connection: Upgrade", [
    "GET / HTTP/1.1",
    HOST,
    "Upgrade: websocket",
    KEY,
    VERSION,
  ], false],
];

for (const [what, lines, httpUpgrade] of brokenUpgrades) {
  serverTest(
    `SRV-06 server hostile: an upgrade with ${what} gets 400 and no stream, and others are unaffected`,
    async (path) => {
      await using context = await serverWithBystander(path, {});
      const { status, head } = await rawRequest(context.server.port, lines);
      // Unless node:http gave it to the test server's request handler.
      assert.equal(status, httpUpgrade || path.seesPlainRequests ? 400 : 200);
      assert.doesNotMatch(head, /^upgrade:/im);
      assert.deepEqual(context.server.errors, []);
      await context.assertAlive();
    },
  );
}

serverTest(
  "SRV-05 server hostile: cross-site and malformed Origins get 403 and no upgrade; the allowed one is upgraded",
  async (path) => {
    await using context = await serverWithBystander(path, {
      origins: ["https://app.example"],
    });
    for (
      const origin of [
        "https://evil.example",
        "https://app.example.evil.example",
        "https://APP.example",
        "https://app.example/",
        "http://app.example",
        "null",
      ]
    ) {
      using handshake = await rawHandshake(context.server.port, {
        headers: { origin },
      });
      assert.equal(handshake.status, 403, origin);
    }
    using allowed = await rawHandshake(context.server.port, {
      headers: { origin: "https://app.example" },
    });
    assert.equal(allowed.status, 101);
    const stream = await context.server.accept();
    await stream.opened;
    await context.assertAlive();
    allowed.connection.close();
    await settleWithin(stream.closed, BOUND_MS, "closed");
  },
);

serverTest(
  "SRV-12 LIM-03 server hostile: a client announcing a 64 MiB frame is dropped (Deno's frame limit) or closed with the overflow code, others are unaffected",
  async (path) => {
    // The client's answering Close arrives inside the announced frame's
    // payload, which the server skips: only closeTimeout ends it, and it must
    // end well within the test's bound.
    await using context = await serverWithBystander(path, {
      closeTimeout: 500,
    });
    using handshake = await rawHandshake(context.server.port);
    const stream = await context.server.accept();
    const { readable } = await stream.opened;
    await handshake.connection.conn.write(
      new Uint8Array([0x82, 0x80 | 127, 0, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4]),
    );
    if (path.hugeFrame === "overflow close") {
      const close = await handshake.connection.readFrame();
      assert.equal(close?.opcode, Opcode.close);
      assert.equal(parseClosePayload(close!.payload).code, 4009);
      await writeClientFrame(
        handshake.connection,
        Opcode.close,
        close!.payload,
      );
    }
    const error = await rejectionWithin(stream.closed, BOUND_MS, "closed");
    if (path.hugeFrame === "overflow close") webSocketError(4009)(error);
    else webSocketError(1006, { message: /Frame too large/ })(error);
    assert.equal(
      await rejectionWithin(readable.getReader().read(), BOUND_MS, "read"),
      error,
    );
    assert.equal(await handshake.connection.readFrame(), null, "TCP dropped");
    await context.assertAlive();
  },
);

serverTest(
  "SRV-12 LIM-04 server hostile: messages beyond receiveLimit from a client are refused with the overflowCloseCode, others are unaffected",
  async (path) => {
    await using context = await serverWithBystander(path, {
      receiveLimit: 1.5 * MiB,
      overflowCloseCode: 1009,
    });
    using handshake = await rawHandshake(context.server.port);
    const stream = await context.server.accept();
    // Unpaced, the first message fills the readable's one slot, the second
    // the queue, the third overflows it; paced, only a message longer than
    // the limit overflows. Nothing may follow: Deno drops a connection whose
    // peer sends data after our Close (see server_test.ts).
    const sizes = path.pacesReads ? [2 * MiB] : [MiB, MiB, MiB];
    for (const size of sizes) {
      await writeClientFrame(
        handshake.connection,
        Opcode.binary,
        new Uint8Array(size),
      );
    }
    const close = await handshake.connection.readMessage();
    assert.equal(close?.opcode, Opcode.close);
    assert.deepEqual(parseClosePayload(close!.payload), {
      code: 1009,
      reason: "Receive queue limit exceeded",
    });
    await writeClientFrame(handshake.connection, Opcode.close, close!.payload);
    const { readable } = await stream.opened;
    const reader = readable.getReader();
    for (const size of sizes.slice(0, -1)) {
      assert.equal((await reader.read()).value?.length, size);
    }
    const error = await rejectionWithin(reader.read(), BOUND_MS, "read");
    webSocketError(1009, { message: /limit of 1572864 bytes exceeded/ })(error);
    assert.equal(
      await rejectionWithin(stream.closed, BOUND_MS, "closed"),
      error,
    );
    await context.assertAlive();
  },
);

serverTest(
  "SRV-12 server hostile: a client that never reads stalls only its own writes; close() then drops it after closeTimeout",
  async (path) => {
    await using context = await serverWithBystander(path, {
      writeHighWaterMark: 64 * 1024,
      closeTimeout: 300,
    });
    using _handshake = await rawHandshake(context.server.port);
    const stream = await context.server.accept();
    const { writable } = await stream.opened;
    const writer = writable.getWriter();
    let written = 0;
    let stalled: Promise<void> | undefined;
    // Write until a write stays pending: the client's and the kernel's
    // buffers are full. Bounded: 64 MiB at most.
    while (written < 1024) {
      const write = writer.write(new Uint8Array(64 * 1024));
      const settled = await settleWithin(
        Promise.race([
          write.then(() => true),
          new Promise((r) => setTimeout(r, 200, false)),
        ]),
        BOUND_MS,
        "write",
      );
      if (settled.status === "fulfilled" && settled.value === false) {
        stalled = write;
        break;
      }
      written++;
    }
    assert.ok(
      stalled !== undefined,
      `${written} writes of 64 KiB all resolved`,
    );
    await context.assertAlive();
    stream.close({ closeCode: 1008, reason: "not reading" });
    domException("InvalidStateError")(
      await rejectionWithin(stalled, BOUND_MS, "stalled write"),
    );
    webSocketError(1006, {
      message: /did not answer the closing handshake within 300 ms/,
    })(await rejectionWithin(stream.closed, BOUND_MS, "closed"));
    await context.assertAlive();
  },
);

serverTest(
  "SRV-06 server hostile: a POST with upgrade headers is refused with 400 and no stream, and others are unaffected",
  async (path) => {
    await using context = await serverWithBystander(path, {});
    const { status } = await rawRequest(context.server.port, [
      "POST / HTTP/1.1",
      HOST,
      ...UPGRADE,
      KEY,
      VERSION,
      "Content-Length: 0",
    ]);
    assert.equal(status, 400);
    // Deno's HTTP layer refuses it before the handler; handleUpgrade itself.
    assert.deepEqual(context.server.statuses.filter((s) => s === 101), [101]);
    await context.assertAlive();
  },
);

serverTest(
  "SRV-06 server hostile: an upgrade with Sec-WebSocket-Version 8 gets 426 naming version 13 (RFC 6455 §4.4)",
  async (path) => {
    await using context = await serverWithBystander(path, {});
    const { status, head } = await rawRequest(context.server.port, [
      "GET / HTTP/1.1",
      HOST,
      ...UPGRADE,
      KEY,
      "Sec-WebSocket-Version: 8",
    ]);
    assert.equal(status, 426);
    assert.match(head, /^sec-websocket-version: 13$/im);
    assert.deepEqual(context.server.errors, []);
    await context.assertAlive();
  },
);
