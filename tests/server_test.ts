import assert from "node:assert/strict";
import {
  type ProtocolSelection,
  upgradeWebSocketStream,
  type UpgradeWebSocketStreamOptions,
  WebSocketError,
  WebSocketStream,
} from "../mod.ts";
import {
  BOUND_MS,
  delay,
  domException,
  rejectionWithin,
  settleWithin,
  webSocketError,
} from "./_assert.ts";
import { encodeClientFrame, rawHandshake, readUntil } from "./_raw_client.ts";
import { concat } from "./_bytes.ts";
import { closePayload, Opcode, parseClosePayload } from "./_raw_server.ts";
import { serve } from "./_wpt_server.ts";
import { serverTest } from "./_server_paths.ts";
import { echo, readAll, readCount, streamHandler } from "./_stream_server.ts";

/** Connects our client to `server` and returns both ends, opened. */
async function connectPair(
  server: { url: string; accept(): Promise<WebSocketStream> },
  path = "/",
  protocols?: string[],
) {
  const client = new WebSocketStream(
    `${server.url}${path}`,
    protocols === undefined ? {} : { protocols },
  );
  const serverStream = await server.accept();
  const [clientOpen, serverOpen] = await Promise.all([
    client.opened,
    serverStream.opened,
  ]);
  return { client, serverStream, clientOpen, serverOpen };
}

async function assertWritableErrored(
  writable: WritableStream<unknown>,
  check: (error: unknown) => boolean,
): Promise<void> {
  const writer = writable.getWriter();
  await assert.rejects(writer.write("too late"), check);
  writer.releaseLock();
}

serverTest(
  "SRV-01 upgradeWebSocketStream echoes text and binary messages to WebSocketStream",
  async (path) => {
    await using server = await path.start();
    const client = new WebSocketStream(server.url);
    echo(await server.accept());
    const { readable, writable } = await client.opened;
    const writer = writable.getWriter();
    await writer.write("hello");
    await writer.write(new Uint8Array([0, 1, 255]));
    await writer.write("");
    await writer.write(new Uint8Array(0));
    const [text, binary, emptyText, emptyBinary] = await readCount(readable, 4);
    assert.equal(text, "hello");
    assert.deepEqual(binary, new Uint8Array([0, 1, 255]));
    assert.equal(emptyText, "");
    assert.ok(emptyBinary instanceof Uint8Array);
    assert.equal(emptyBinary.byteLength, 0);
    client.close();
    assert.deepEqual(await client.closed, { closeCode: 1005, reason: "" });
  },
);

serverTest(
  "SRV-02 the server stream's url is the request URL with ws: instead of http:",
  async (path) => {
    await using server = await path.start();
    const { client, serverStream } = await connectPair(
      server,
      "/room/7?user=ann",
    );
    assert.equal(serverStream.url, `${server.url}/room/7?user=ann`);
    assert.ok(serverStream instanceof WebSocketStream);
    client.close();
    await serverStream.closed;
  },
);

serverTest(
  "SRV-02 the server stream's url is normalised and never throws, whatever Host header the client sent",
  async (path) => {
    await using server = await path.start();
    const port = Number(new URL(server.url).port);
    // A fragment in the Host made reading `url` throw a SyntaxError, in
    // the handler, on Deno.serve.
    const cases: [host: string, url: string][] = [
      ["Example.COM:80", "ws://example.com/p?q=1"],
      ["a#b", "ws://a/#b/p?q=1"],
    ];
    for (const [host, expected] of cases) {
      using _client = await rawHandshake(port, { path: "/p?q=1", host });
      const stream = await server.accept();
      assert.equal(stream.url, expected);
    }
  },
);

serverTest(
  "SRV-02 a request target in absolute form (GET http://host/path) is the stream's url, as HTTP/1.1 says",
  async (path) => {
    await using server = await path.start();
    const port = Number(new URL(server.url).port);
    using _client = await rawHandshake(port, {
      path: "http://other.example/abs?q=1",
      host: "Example.COM",
    });
    const stream = await server.accept();
    assert.equal(stream.url, "ws://other.example/abs?q=1");
  },
);

serverTest(
  "SRV-03 CLS-09 a client close code and reason reach the server stream, whose readable ends and writable errors",
  async (path) => {
    await using server = await path.start();
    const { client, serverStream, serverOpen } = await connectPair(server);
    client.close({ closeCode: 3001, reason: "client leaves" });
    const expected = { closeCode: 3001, reason: "client leaves" };
    assert.deepEqual(await serverStream.closed, expected);
    assert.deepEqual(await client.closed, expected);
    assert.deepEqual(await readAll(serverOpen.readable), []);
    await assertWritableErrored(
      serverOpen.writable,
      domException("InvalidStateError"),
    );
  },
);

serverTest(
  "SRV-03 the server stream closes with the server-only codes 1001, 1008 and 1011 and a reason",
  async (path) => {
    await using server = await path.start();
    for (const closeCode of [1001, 1008, 1011]) {
      const { client, serverStream, clientOpen } = await connectPair(server);
      const expected = { closeCode, reason: `server says ${closeCode}` };
      serverStream.close(expected);
      assert.deepEqual(await client.closed, expected);
      assert.deepEqual(await serverStream.closed, expected);
      assert.deepEqual(await readAll(clientOpen.readable), []);
      await assertWritableErrored(
        clientOpen.writable,
        domException("InvalidStateError"),
      );
    }
  },
);

serverTest(
  "CLS-07 an empty Close from either end is seen as 1005 by both",
  async (path) => {
    await using server = await path.start();
    const fromServer = await connectPair(server);
    fromServer.serverStream.close();
    assert.deepEqual(await fromServer.client.closed, {
      closeCode: 1005,
      reason: "",
    });
    assert.deepEqual(await fromServer.serverStream.closed, {
      closeCode: 1005,
      reason: "",
    });
    const fromClient = await connectPair(server);
    fromClient.client.close();
    assert.deepEqual(await fromClient.serverStream.closed, {
      closeCode: 1005,
      reason: "",
    });
    assert.deepEqual(await fromClient.client.closed, {
      closeCode: 1005,
      reason: "",
    });
  },
);

serverTest(
  "CLS-03 CLS-04 the server stream refuses codes no endpoint may send with InvalidAccessError, overlong reasons with SyntaxError",
  async (path) => {
    await using server = await path.start();
    const { client, serverStream } = await connectPair(server);
    for (const closeCode of [0, 999, 1004, 1005, 1006, 1015, 2999, 5000]) {
      assert.throws(
        () => serverStream.close({ closeCode }),
        domException("InvalidAccessError"),
        String(closeCode),
      );
    }
    assert.throws(
      () => serverStream.close({ closeCode: 1011, reason: "x".repeat(124) }),
      domException("SyntaxError"),
    );
    // Nothing was sent by the refused calls: the connection is still usable.
    client.close({ closeCode: 4000, reason: "still open" });
    assert.deepEqual(await serverStream.closed, {
      closeCode: 4000,
      reason: "still open",
    });
  },
);

serverTest(
  "CLD-05 a client that drops TCP without a Close makes the server stream's closed reject with 1006",
  async (path) => {
    await using server = await path.start();
    const handshake = await rawHandshake(server.port);
    assert.equal(handshake.status, 101);
    const serverStream = await server.accept();
    const { readable, writable } = await serverStream.opened;
    handshake.connection.close();
    const result = await settleWithin(serverStream.closed, BOUND_MS, "closed");
    assert.equal(result.status, "rejected");
    webSocketError(1006)(result.reason);
    // CLD-06: the readable errors with the same error.
    await assert.rejects(
      readable.getReader().read(),
      (error) => error === result.reason,
    );
    await assertWritableErrored(writable, webSocketError(1006));
  },
);

serverTest(
  "CLD-09 a client that never answers the server's Close: closed rejects with 1006 after closeTimeout",
  async (path) => {
    await using server = await path.start({ closeTimeout: 200 });
    using handshake = await rawHandshake(server.port);
    const serverStream = await server.accept();
    await serverStream.opened;
    serverStream.close({ closeCode: 1008, reason: "policy" });
    const close = await readUntil(handshake.connection, Opcode.close);
    assert.deepEqual(parseClosePayload(close!), {
      code: 1008,
      reason: "policy",
    });
    await assert.rejects(serverStream.closed, webSocketError(1006));
    // The server dropped the connection instead of waiting any longer.
    assert.equal(await handshake.connection.readFrame(), null);
  },
);

serverTest(
  "CLD-05 a client that drops TCP after the server's Close, without answering: the path's documented outcome",
  async (path) => {
    await using server = await path.start();
    const handshake = await rawHandshake(server.port);
    const serverStream = await server.accept();
    await serverStream.opened;
    serverStream.close({ closeCode: 4000 });
    assert.notEqual(await readUntil(handshake.connection, Opcode.close), null);
    handshake.connection.close();
    if (path.droppedAfterOurClose === "clean 1005") {
      assert.deepEqual(await serverStream.closed, {
        closeCode: 1005,
        reason: "",
      });
    } else {
      await assert.rejects(serverStream.closed, webSocketError(1006));
    }
  },
);

serverTest(
  "CLD-04 a client answering the server's Close with its own code: the server's closed has the client's",
  async (path) => {
    await using server = await path.start();
    using handshake = await rawHandshake(server.port);
    const serverStream = await server.accept();
    await serverStream.opened;
    serverStream.close({ closeCode: 1001, reason: "going away" });
    await readUntil(handshake.connection, Opcode.close);
    await handshake.writeFrame(Opcode.close, closePayload(4321, "ok, bye"));
    assert.deepEqual(await serverStream.closed, {
      closeCode: 4321,
      reason: "ok, bye",
    });
  },
);

const seenBySelector: (readonly string[])[] = [];
const protocolSelections: [string, ProtocolSelection, string[], string][] = [
  ["a string is selected when the client offers it", "chat", [
    "superchat",
    "chat",
  ], "chat"],
  [
    "a preference list selects the server's first choice among those offered",
    ["v3", "v2", "v1"],
    ["v1", "v2"],
    "v2",
  ],
  [
    "a selector gets the offered list in order and its answer is selected",
    (offered) => {
      seenBySelector.push(offered);
      return offered.at(-1);
    },
    ["a", "b", "c"],
    "c",
  ],
];

for (const [what, protocol, offered, selected] of protocolSelections) {
  serverTest(`SRV-04 protocol as ${what}`, async (path) => {
    seenBySelector.length = 0;
    await using server = await path.start({ protocol });
    const { client, clientOpen, serverOpen } = await connectPair(
      server,
      "/",
      offered,
    );
    assert.equal(clientOpen.protocol, selected);
    assert.equal(serverOpen.protocol, selected);
    if (typeof protocol === "function") {
      assert.deepEqual(seenBySelector, [offered]);
    }
    client.close();
    await client.closed;
  });
}

serverTest(
  "SRV-04 an offer written 'a,b' without spaces is parsed, which Deno.upgradeWebSocket cannot do",
  async (path) => {
    await using server = await path.start({ protocol: ["b"] });
    using handshake = await rawHandshake(server.port, {
      headers: { "Sec-WebSocket-Protocol": "a,b" },
    });
    assert.equal(handshake.status, 101);
    assert.equal(handshake.headers.get("sec-websocket-protocol"), "b");
    const serverStream = await server.accept();
    assert.equal((await serverStream.opened).protocol, "b");
    await handshake.writeFrame(Opcode.close);
    assert.deepEqual(await serverStream.closed, {
      closeCode: 1005,
      reason: "",
    });
  },
);

serverTest(
  "SRV-04 CTR-20 when no offered protocol matches, the upgrade has no subprotocol and WebSocketStream fails it",
  async (path) => {
    await using server = await path.start({ protocol: ["x"] });
    {
      using handshake = await rawHandshake(server.port, {
        headers: { "Sec-WebSocket-Protocol": "y, z" },
      });
      assert.equal(handshake.status, 101);
      assert.equal(handshake.headers.get("sec-websocket-protocol"), null);
      const serverStream = await server.accept();
      assert.equal((await serverStream.opened).protocol, "");
      await handshake.writeFrame(Opcode.close);
      await serverStream.closed;
    }
    const client = new WebSocketStream(server.url, { protocols: ["y"] });
    const serverStream = await server.accept();
    await assert.rejects(client.opened, webSocketError(null));
    await assert.rejects(client.closed, webSocketError(1006));
    // The server stream ends too, without a Close from the client.
    await settleWithin(serverStream.closed, BOUND_MS, "server closed");
  },
);

serverTest(
  "SRV-04 without the protocol option no subprotocol is selected, even when one is offered",
  async (path) => {
    await using server = await path.start();
    using handshake = await rawHandshake(server.port, {
      headers: { "Sec-WebSocket-Protocol": "chat" },
    });
    assert.equal(handshake.status, 101);
    assert.equal(handshake.headers.get("sec-websocket-protocol"), null);
    const serverStream = await server.accept();
    await handshake.writeFrame(Opcode.close);
    await serverStream.closed;
  },
);

serverTest(
  "SRV-04 a protocol selector returning a protocol the client did not offer is a TypeError and nothing is upgraded",
  async (path) => {
    await using server = await path.start({ protocol: () => "unoffered" });
    const client = new WebSocketStream(server.url, { protocols: ["offered"] });
    await assert.rejects(client.opened, webSocketError(null));
    await assert.rejects(client.closed, webSocketError(1006));
    assert.deepEqual(server.statuses, [500]);
    assert.equal(server.errors.length, 1);
    assert.ok(server.errors[0] instanceof TypeError);
    assert.match((server.errors[0] as Error).message, /"unoffered"/);
  },
);

serverTest(
  "SRV-04 a protocol selector returning no string (async, null, a number) is a TypeError that says so, and nothing is upgraded",
  async (path) => {
    const returned: unknown[] = [Promise.resolve("offered"), null, 42];
    await using server = await path.start({
      protocol: (() => returned[server.errors.length]) as ProtocolSelection,
    });
    for (const value of returned) {
      const client = new WebSocketStream(server.url, {
        protocols: ["offered"],
      });
      await assert.rejects(client.opened, webSocketError(null));
      await assert.rejects(client.closed, webSocketError(1006));
      assert.ok(server.errors.at(-1) instanceof TypeError, String(value));
    }
    assert.deepEqual(server.statuses, [500, 500, 500]);
    assert.deepEqual(
      server.errors.map((error) =>
        (error as Error).message.replace(/^Cannot [^:]+: /, "")
      ),
      ["[object Promise] (a selector cannot be async)", "null", "42"].map(
        (received) =>
          `the protocol selector must return a string or undefined, received ${received}`,
      ),
    );
  },
);

serverTest(
  "SRV-05 origins: a listed Origin and no Origin are upgraded, any other gets 403 without an upgrade",
  async (path) => {
    await using server = await path.start({
      origins: ["https://app.example"],
    });
    {
      using refused = await rawHandshake(server.port, {
        headers: { "Origin": "https://evil.example" },
      });
      assert.equal(refused.status, 403);
      assert.equal(refused.headers.get("upgrade"), null);
      assert.equal(refused.headers.get("sec-websocket-accept"), null);
    }
    for (const headers of [{ Origin: "https://app.example" }, {}]) {
      using accepted = await rawHandshake(server.port, { headers });
      assert.equal(accepted.status, 101);
      const serverStream = await server.accept();
      await accepted.writeFrame(Opcode.close);
      await serverStream.closed;
    }
    assert.deepEqual(server.statuses, [403, 101, 101]);
  },
);

serverTest(
  "SRV-05 origins as a function decides on the Origin header, null when absent",
  async (path) => {
    const seen: (string | null)[] = [];
    await using server = await path.start({
      origins: (origin) => {
        seen.push(origin);
        return origin === "http://localhost:8000";
      },
    });
    for (const headers of [{ Origin: "http://localhost:8000" }, {}]) {
      using handshake = await rawHandshake(server.port, { headers });
      if (handshake.status === 101) {
        const serverStream = await server.accept();
        await handshake.writeFrame(Opcode.close);
        await serverStream.closed;
      }
    }
    assert.deepEqual(seen, ["http://localhost:8000", null]);
    assert.deepEqual(server.statuses, [101, 403]);
  },
);

serverTest(
  "SRV-05 an origins function returning no boolean (async, a string) is a TypeError, never an upgrade",
  async (path) => {
    const returned: unknown[] = [Promise.resolve(false), "no"];
    await using server = await path.start({
      origins: (() => returned[server.errors.length]) as () => boolean,
    });
    for (const value of returned) {
      using handshake = await rawHandshake(server.port, {
        headers: { Origin: "https://evil.example" },
      });
      assert.equal(handshake.status, 500, String(value));
    }
    assert.deepEqual(
      server.errors.map((error) =>
        `${(error as Error).name}: ${
          (error as Error).message.replace(/^Cannot [^:]+: /, "")
        }`
      ),
      ["[object Promise] (it cannot be async)", '"no"'].map((received) =>
        `TypeError: the origins function must return a boolean, received ${received}`
      ),
    );
  },
);

serverTest(
  "SRV-06 a request that is not a WebSocket upgrade gets 426 Upgrade Required and no stream",
  async (path) => {
    await using server = await path.start();
    if (path.seesPlainRequests) {
      const response = await fetch(server.url.replace("ws:", "http:"));
      assert.equal(response.status, 426);
      assert.equal(response.headers.get("upgrade"), "websocket");
      assert.match(await response.text(), /WebSocket upgrade/);
    }
    // An upgrade to another protocol is no WebSocket upgrade either.
    using post = await rawHandshake(server.port, {
      upgrade: false,
      headers: { Upgrade: "h2c", Connection: "Upgrade" },
    });
    assert.equal(post.status, 426);
    assert.deepEqual(
      server.statuses,
      path.seesPlainRequests ? [426, 426] : [426],
    );
  },
);

serverTest(
  "SRV-07 idleTimeout: a client that never answers pings is pinged, then closed with 1001, uncleanly",
  async (path) => {
    await using server = await path.start({ idleTimeout: 1 });
    using handshake = await rawHandshake(server.port);
    const serverStream = await server.accept();
    await serverStream.opened;
    // The default (30 s) would send no ping for 15 s.
    assert.notEqual(await readUntil(handshake.connection, Opcode.ping), null);
    const close = await readUntil(handshake.connection, Opcode.close);
    assert.equal(parseClosePayload(close!).code, 1001);
    // Deno sent that 1001 itself and no Close came back: unclean.
    const error = await rejectionWithin(
      serverStream.closed,
      BOUND_MS,
      "closed",
    );
    assert.ok(
      webSocketError(1001, { reason: "No response from ping frame." })(error),
      String(error),
    );
    // The reason once, not again as the failure.
    assert.equal(
      (error as Error).message,
      "WebSocket connection closed uncleanly with code 1001: No response from ping frame.",
    );
  },
);

serverTest(
  "SRV-08 no message sent right after the 101 is lost when the server reads late",
  async (path) => {
    await using server = await path.start();
    const client = new WebSocketStream(server.url);
    const serverStream = await server.accept();
    const { writable } = await client.opened;
    const writer = writable.getWriter();
    const sent = Array.from({ length: 50 }, (_, i) => `message ${i}`);
    for (const message of sent) await writer.write(message);
    // Give every message time to arrive before the server looks at the stream.
    await delay(100);
    const { readable } = await serverStream.opened;
    assert.deepEqual(await readCount(readable, sent.length), sent);
    client.close();
    await serverStream.closed;
  },
);

serverTest(
  "BP-01 LIM-04 a server stream whose reader falls behind closes with its overflowCloseCode and errors after the queued messages",
  async (path) => {
    await using server = await path.start({
      receiveLimit: 10_000,
      overflowCloseCode: 1009,
    });
    // A raw client that stops sending at the overflow: see the limitation below.
    using handshake = await rawHandshake(server.port);
    const serverStream = await server.accept();
    await handshake.writeFrame(Opcode.text, "first");
    await handshake.writeFrame(Opcode.text, "second");
    await handshake.writeFrame(Opcode.binary, new Uint8Array(20_000));
    const close = await readUntil(handshake.connection, Opcode.close);
    assert.deepEqual(parseClosePayload(close!), {
      code: 1009,
      reason: "Receive queue limit exceeded",
    });
    await handshake.writeFrame(Opcode.close, close!);
    const { readable } = await serverStream.opened;
    const reader = readable.getReader();
    assert.deepEqual(await reader.read(), { value: "first", done: false });
    assert.deepEqual(await reader.read(), { value: "second", done: false });
    const failure = await settleWithin(reader.read(), BOUND_MS, "read");
    assert.equal(failure.status, "rejected");
    webSocketError(1009, { message: /10000 bytes/ })(failure.reason);
    await assert.rejects(
      serverStream.closed,
      (error) => error === failure.reason,
    );
  },
);

serverTest(
  "CLS-12 a server stream closing while the client is still sending: its Close reaches the client, or (Deno limitation) is lost and both ends see 1006",
  async (path) => {
    await using server = await path.start();
    using handshake = await rawHandshake(server.port);
    const serverStream = await server.accept();
    const frames = Array.from(
      { length: 10 },
      (_, i) => encodeClientFrame(Opcode.text, `${i}`),
    );
    // One write, so every frame is on its way before the server closes.
    await handshake.connection.conn.write(concat(frames));
    const reader = (await serverStream.opened).readable.getReader();
    assert.deepEqual(await reader.read(), { value: "0", done: false });
    serverStream.close({ closeCode: 1008, reason: "stop" });
    const close = await readUntil(handshake.connection, Opcode.close);
    if (path.keepsCloseWhileClientSends) {
      assert.deepEqual(parseClosePayload(close!), {
        code: 1008,
        reason: "stop",
      });
      await handshake.writeFrame(Opcode.close, close!);
      assert.deepEqual(await serverStream.closed, {
        closeCode: 1008,
        reason: "stop",
      });
      return;
    }
    // Deno tears the connection down on the next frame: no Close reaches
    // the client, and the server socket reports code 0.
    assert.equal(close, null);
    await assert.rejects(
      serverStream.closed,
      webSocketError(1006, {
        message: /after our Close frame, before the peer/,
      }),
    );
  },
);

serverTest(
  "BP-02 a server write does not resolve while the client is not reading",
  async (path) => {
    await using server = await path.start();
    using handshake = await rawHandshake(server.port);
    const serverStream = await server.accept();
    const { writable } = await serverStream.opened;
    let clientReading = false;
    // More than loopback's socket buffers hold, so most of it must wait.
    const size = 16 * 1024 * 1024;
    const written = writable.getWriter().write(new Uint8Array(size)).then(() =>
      clientReading
    );
    await delay(200);
    clientReading = true;
    const frame = await handshake.connection.readFrame();
    assert.equal(frame?.payload.byteLength, size);
    assert.equal(await written, true, "the write resolved before any read");
    serverStream.close();
    await readUntil(handshake.connection, Opcode.close);
    await handshake.writeFrame(Opcode.close);
    await serverStream.closed;
  },
);

Deno.test("SRV-09 Deno.serve: server.shutdown() with open streams: the client sees a clean 1001, the server stream 1005, nothing hangs", async () => {
  const { handler, accept } = streamHandler();
  // No abort signal: aborting one after shutdown() throws inside Deno.
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    handler,
  );
  const { client, serverStream, clientOpen, serverOpen } = await connectPair({
    url: `ws://127.0.0.1:${server.addr.port}`,
    accept,
  });
  await server.shutdown();
  assert.deepEqual(await client.closed, {
    closeCode: 1001,
    reason: "Server shutting down",
  });
  assert.deepEqual(await readAll(clientOpen.readable), []);
  await assertWritableErrored(
    clientOpen.writable,
    domException("InvalidStateError"),
  );
  // Deno reports its own shutdown to the server socket as an empty Close.
  assert.deepEqual(await serverStream.closed, { closeCode: 1005, reason: "" });
  assert.deepEqual(await readAll(serverOpen.readable), []);
  await assertWritableErrored(
    serverOpen.writable,
    domException("InvalidStateError"),
  );
});

Deno.test("SRV-09 Deno.serve: aborting its signal with open streams: Deno sends Close code 1005, so the client fails with 1006", async () => {
  const { handler } = streamHandler();
  await using server = serve(handler);
  using handshake = await rawHandshake(server.port);
  await server.close();
  // 1005 must never be sent (RFC 6455 section 7.4.1); every client fails on it.
  const close = await readUntil(handshake.connection, Opcode.close);
  assert.equal(parseClosePayload(close!).code, 1005);
});

Deno.test("SRV-09 Deno.serve: aborting its signal: our client fails with 1006 and the server stream sees 1005", async () => {
  const { handler, accept } = streamHandler();
  await using server = serve(handler);
  const { client, serverStream, clientOpen } = await connectPair({
    url: server.url,
    accept,
  });
  await server.close();
  await assert.rejects(client.closed, webSocketError(1006));
  await assert.rejects(clientOpen.readable.getReader().read(), WebSocketError);
  assert.deepEqual(await serverStream.closed, { closeCode: 1005, reason: "" });
});

Deno.test({
  name:
    "SRV-09 graceful shutdown: with Deno.serve's signal passed to upgradeWebSocketStream, both ends see a clean 1001",
  // The `signal` option closes with 1001 "Server shutting down" ahead of
  // Deno's own Close (which carries the invalid code 1005), and reports that
  // 1001 as the server stream's close, since Deno reports 1005 for the
  // torn-down socket.
  fn: async () => {
    const controller = new AbortController();
    const options: UpgradeWebSocketStreamOptions = {
      signal: controller.signal,
    };
    const { handler, accept } = streamHandler(options);
    await using server = serve(handler, controller);
    const pairs = [];
    for (let i = 0; i < 3; i++) {
      pairs.push(await connectPair({ url: server.url, accept }));
    }
    await server.close();
    const expected = { closeCode: 1001, reason: "Server shutting down" };
    for (const { client, serverStream, clientOpen, serverOpen } of pairs) {
      assert.deepEqual(await client.closed, expected);
      assert.deepEqual(await serverStream.closed, expected);
      for (const open of [clientOpen, serverOpen]) {
        assert.deepEqual(await readAll(open.readable), []);
        await assertWritableErrored(
          open.writable,
          domException("InvalidStateError"),
        );
      }
    }
  },
});

/**
 * A valid WebSocket upgrade request made in memory, not served: enough for
 * the checks that come before Deno upgrades anything.
 */
function upgradeRequest(): Request {
  return new Request("http://127.0.0.1/", {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
}

Deno.test("SRV-10 options are checked before anything is upgraded: bad ones throw, never leave a client hanging", () => {
  const request = upgradeRequest();
  const bad: [UpgradeWebSocketStreamOptions, typeof TypeError][] = [
    [{ signal: {} as AbortSignal }, TypeError],
    [{ protocol: 42 as unknown as string }, TypeError],
    [{ origins: "https://a.example" as unknown as string[] }, TypeError],
    [{ idleTimeout: "x" as unknown as number }, TypeError],
    [{ idleTimeout: -1 }, RangeError],
    // Half of it would not fit a timer, which then fires at once: every
    // client would be pinged and dropped within milliseconds.
    [{ idleTimeout: 5e6 }, RangeError],
  ];
  for (const [options, error] of bad) {
    assert.throws(
      () => upgradeWebSocketStream(request, options),
      error,
      JSON.stringify(options),
    );
  }
  const named: [UpgradeWebSocketStreamOptions, string][] = [
    [{ signal: 1 as unknown as AbortSignal }, "signal must be an AbortSignal"],
    [
      { protocol: 42 as unknown as string },
      "protocol must be a string, an array of strings or a function",
    ],
    [
      { origins: 7 as unknown as string[] },
      "origins must be an array of origins or a function",
    ],
  ];
  for (const [options, why] of named) {
    const [value] = Object.values(options);
    assert.throws(() => upgradeWebSocketStream(request, options), {
      name: "TypeError",
      message: `Cannot upgrade to WebSocketStream: options.${why}, received ${
        String(value)
      }`,
    });
  }
  // No client can offer such a name: it would never be selected.
  for (
    const [protocol, at] of [
      ["chat.v2, chat.v1", ""],
      [["chat.v2", "chat v1"], "[1]"],
      [["chat.v2", 2], "[1]"],
      ["", ""],
    ] as const
  ) {
    const received = (Array.isArray(protocol) ? protocol[1] : protocol)!;
    assert.throws(
      () =>
        upgradeWebSocketStream(request, {
          protocol: protocol as unknown as string[],
        }),
      {
        name: "TypeError",
        message:
          `Cannot upgrade to WebSocketStream: options.protocol${at} must be a subprotocol name (a token, several go in an array), received ${
            typeof received === "string" ? JSON.stringify(received) : received
          }`,
      },
    );
  }
  // Browsers send an origin serialised (lower case, no default port, no
  // path): any other entry would refuse every browser without a word.
  const notOrigins: [unknown, string][] = [
    ["https://app.example/", ' (its origin is "https://app.example")'],
    ["https://App.example", ' (its origin is "https://app.example")'],
    ["https://app.example:443", ' (its origin is "https://app.example")'],
    ["app.example", ""],
    [7, ""],
  ];
  for (const [entry, hint] of notOrigins) {
    assert.throws(
      () =>
        upgradeWebSocketStream(request, {
          origins: ["http://localhost:8000", entry as string],
        }),
      {
        name: "TypeError",
        message:
          `Cannot upgrade to WebSocketStream: options.origins[1] must be an origin such as "https://example.com", received ${
            typeof entry === "string" ? JSON.stringify(entry) : entry
          }${hint}`,
      },
    );
  }
  assert.throws(
    () => upgradeWebSocketStream(request, 5 as UpgradeWebSocketStreamOptions),
    {
      name: "TypeError",
      message:
        "Cannot upgrade to WebSocketStream: options must be an object, received 5",
    },
  );
  // Not a Web IDL operation: a function here is a selector or an origins
  // check passed in the options' place, never options without a member.
  const selector = (offered: string[]) => offered[0];
  assert.throws(
    () =>
      upgradeWebSocketStream(
        request,
        selector as unknown as UpgradeWebSocketStreamOptions,
      ),
    {
      name: "TypeError",
      message:
        "Cannot upgrade to WebSocketStream: options must be an object, received a function",
    },
  );
  assert.throws(
    () => upgradeWebSocketStream({} as Request),
    {
      name: "TypeError",
      message:
        "Cannot upgrade to WebSocketStream: request must be a Request, received [object Object]",
    },
  );
});

Deno.test("SRV-14 Deno.serve: a copy of the request, or one already upgraded, is a TypeError, never a 101 whose stream never opens", async () => {
  const errors: unknown[] = [];
  const upgradeOrFail = (request: Request) => {
    try {
      return upgradeWebSocketStream(request).response;
    } catch (error) {
      errors.push(error);
      return new Response("Upgrade failed\n", { status: 500 });
    }
  };
  await using server = serve((request) => {
    if (new URL(request.url).pathname === "/copy") {
      // As middleware makes them; `request.clone()` makes one too.
      return upgradeOrFail(
        new Request(request.url, { headers: request.headers }),
      );
    }
    const { response } = upgradeWebSocketStream(request);
    upgradeOrFail(request);
    return response;
  });
  {
    using copied = await rawHandshake(server.port, { path: "/copy" });
    assert.equal(copied.status, 500);
  }
  {
    // A copy that needs no upgrade is answered as any other request.
    using plain = await rawHandshake(server.port, {
      path: "/copy",
      upgrade: false,
    });
    assert.equal(plain.status, 426);
  }
  using upgraded = await rawHandshake(server.port);
  assert.equal(upgraded.status, 101);
  await upgraded.writeFrame(Opcode.close);
  await readUntil(upgraded.connection, Opcode.close);
  assert.deepEqual(errors.map((error) => (error as Error).name), [
    "TypeError",
    "TypeError",
  ]);
  assert.match(
    (errors[0] as Error).message,
    /^Cannot upgrade to WebSocketStream: request must be the one Deno\.serve passed to its handler, received a copy/,
  );
  assert.equal(
    (errors[1] as Error).message,
    "Cannot upgrade to WebSocketStream: request was already upgraded",
  );
});

Deno.test("SRV-09 Deno.serve: aborting its signal during a handshake ends that server stream after closeTimeout, never leaves it pending", async () => {
  // Deno drops a handshake its abort caught midway without a word: no
  // response, no close, even for its own WebSocket client.
  const controller = new AbortController();
  const accepted = Promise.withResolvers<WebSocketStream>();
  await using server = serve(async (request) => {
    const { response, stream } = upgradeWebSocketStream(request, {
      signal: controller.signal,
      closeTimeout: 50,
    });
    accepted.resolve(stream!);
    controller.abort();
    await delay(10);
    return response;
  }, controller);
  using conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.port,
  });
  await conn.write(
    new TextEncoder().encode(
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
  );
  const stream = await accepted.promise;
  const [openedError, closedError] = await Promise.all([
    rejectionWithin(stream.opened, BOUND_MS, "opened"),
    rejectionWithin(stream.closed, BOUND_MS, "closed"),
  ]);
  assert.ok(webSocketError(null)(openedError), String(openedError));
  assert.ok(webSocketError(1006)(closedError), String(closedError));
  assert.match(
    (openedError as Error).message,
    /the server shut down before the connection opened/,
  );
});

Deno.test("SRV-15 without Deno.upgradeWebSocket (Node, Bun), an upgrade is a TypeError that names handleUpgrade; other requests still get 426", () => {
  const upgrade = upgradeRequest();
  const own = Object.getOwnPropertyDescriptor(Deno, "upgradeWebSocket")!;
  Object.defineProperty(Deno, "upgradeWebSocket", {
    value: undefined,
    configurable: true,
  });
  try {
    assert.throws(() => upgradeWebSocketStream(upgrade), {
      name: "TypeError",
      message:
        'Cannot upgrade to WebSocketStream: this runtime has no Deno.upgradeWebSocket; with node:http, use handleUpgrade from "@streams/websocket/node"',
    });
    const plain = upgradeWebSocketStream(new Request("http://127.0.0.1/"));
    assert.equal(plain.response.status, 426);
  } finally {
    Object.defineProperty(Deno, "upgradeWebSocket", own);
  }
});

Deno.test("SRV-04 Deno.serve: where the 101's headers cannot be changed (Deno before 2.5), an 'a,b' offer gets no subprotocol and the server lives on", async () => {
  // Deno 2.0 to 2.4 make the response of Deno.upgradeWebSocket immutable:
  // Headers.prototype.set is made to throw as theirs does, around the call.
  const { set } = Headers.prototype;
  const immutable = () => {
    throw new TypeError("Cannot change headers: headers are immutable");
  };
  const { handler, accept, errors } = streamHandler({ protocol: ["b"] });
  await using server = serve((request) => {
    Headers.prototype.set = immutable;
    try {
      return handler(request);
    } finally {
      Headers.prototype.set = set;
    }
  });
  for (let i = 0; i < 2; i++) {
    // A throw after the upgrade makes Deno stop the server without an
    // answer: the wait for one is bounded.
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    try {
      await conn.write(
        new TextEncoder().encode(
          "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a,b\r\n\r\n",
        ),
      );
      const buffer = new Uint8Array(1024);
      const read = await settleWithin(conn.read(buffer), BOUND_MS, "the 101");
      assert.deepEqual(errors, []);
      assert.equal(read.status, "fulfilled");
      const head = new TextDecoder().decode(
        buffer.subarray(0, (read as { value: number | null }).value ?? 0),
      );
      assert.match(head, /^HTTP\/1\.1 101 /);
      assert.doesNotMatch(head, /sec-websocket-protocol/i);
      const stream = await accept();
      assert.equal((await stream.opened).protocol, "");
      await conn.write(encodeClientFrame(Opcode.close));
      await stream.closed;
    } finally {
      conn.close();
    }
  }
});
