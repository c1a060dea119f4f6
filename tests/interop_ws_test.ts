/**
 * Interop with the npm `ws` package, the most used Node.js implementation,
 * under Deno's npm compatibility: its client against our server on each
 * server path, and its server for our client. (`ws` under a real Node process
 * is in interop_ws_node_test.ts.)
 *
 * @module
 */

import assert from "node:assert/strict";
// The package ships no types; its callbacks are annotated where used.
import WebSocket, { WebSocketServer } from "ws";
import { WebSocketStream } from "../mod.ts";
import { serverTest } from "./_server_paths.ts";
import { echo, readCount } from "./_stream_server.ts";

/** Opens a `ws` client, failing on an error before `open`. */
async function openWs(url: string, protocols?: string[]): Promise<WebSocket> {
  const socket = new WebSocket(url, protocols);
  await new Promise<void>((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  return socket;
}

/** Resolves with the code and reason of the `ws` socket's close event. */
function wsClosed(
  socket: WebSocket,
): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    socket.once(
      "close",
      (code: number, reason: Uint8Array) =>
        resolve({ code, reason: new TextDecoder().decode(reason) }),
    )
  );
}

function nextWsMessage(
  socket: WebSocket,
): Promise<{ data: Uint8Array; isBinary: boolean }> {
  return new Promise((resolve) =>
    socket.once(
      "message",
      (data: Uint8Array, isBinary: boolean) =>
        resolve({ data: new Uint8Array(data), isBinary }),
    )
  );
}

serverTest(
  "INT-05 ws client: text and binary echo through our server keep their type and bytes",
  async (path) => {
    await using server = await path.start();
    const socket = await openWs(server.url);
    echo(await server.accept());
    const large = crypto.getRandomValues(new Uint8Array(65536));
    for (
      const [sent, binary] of [
        ["héllo ✓", false],
        [new Uint8Array([0, 1, 2, 255]), true],
        [large, true],
      ] as const
    ) {
      const received = nextWsMessage(socket);
      socket.send(sent, { binary });
      const { data, isBinary } = await received;
      assert.equal(isBinary, binary);
      if (typeof sent === "string") {
        assert.equal(new TextDecoder().decode(data), sent);
      } else assert.deepEqual(data, sent);
    }
    const closed = wsClosed(socket);
    socket.close(1000);
    assert.equal((await closed).code, 1000);
  },
);

serverTest(
  "INT-05 ws client: its 'a,b' protocol offer gets our server's choice",
  async (path) => {
    await using server = await path.start({ protocol: ["b", "a"] });
    const socket = await openWs(server.url, ["a", "b"]);
    const serverStream = await server.accept();
    assert.equal(socket.protocol, "b");
    assert.equal((await serverStream.opened).protocol, "b");
    const closed = wsClosed(socket);
    socket.close();
    assert.deepEqual(await closed, { code: 1005, reason: "" });
    assert.deepEqual(await serverStream.closed, {
      closeCode: 1005,
      reason: "",
    });
  },
);

serverTest(
  "INT-05 ws client: close code and reason travel both ways",
  async (path) => {
    await using server = await path.start();
    {
      const socket = await openWs(server.url);
      const serverStream = await server.accept();
      const closed = wsClosed(socket);
      socket.close(4001, "client done");
      assert.deepEqual(await serverStream.closed, {
        closeCode: 4001,
        reason: "client done",
      });
      assert.deepEqual(await closed, { code: 4001, reason: "client done" });
    }
    {
      const socket = await openWs(server.url);
      const serverStream = await server.accept();
      const closed = wsClosed(socket);
      await serverStream.opened;
      serverStream.close({ closeCode: 1008, reason: "policy ✓" });
      assert.deepEqual(await closed, { code: 1008, reason: "policy ✓" });
      assert.deepEqual(await serverStream.closed, {
        closeCode: 1008,
        reason: "policy ✓",
      });
    }
  },
);

Deno.test("ws server: our client echoes text and binary, negotiates a protocol and closes with a code both ways", async () => {
  const server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    handleProtocols: (offered: Set<string>) => offered.has("v2") ? "v2" : false,
  });
  const serverClosed: Promise<{ code: number; reason: string }>[] = [];
  server.on("connection", (socket: WebSocket) => {
    serverClosed.push(wsClosed(socket));
    socket.on("message", (data: Uint8Array, isBinary: boolean) => {
      if (!isBinary && new TextDecoder().decode(data) === "close yourself") {
        socket.close(4002, "server done");
      } else socket.send(data, { binary: isBinary });
    });
  });
  try {
    await new Promise((resolve) => server.once("listening", resolve));
    const { port } = server.address() as { port: number };
    const url = `ws://127.0.0.1:${port}/`;

    const client = new WebSocketStream(url, { protocols: ["v1", "v2"] });
    const { readable, writable, protocol } = await client.opened;
    assert.equal(protocol, "v2");
    const writer = writable.getWriter();
    await writer.write("text");
    await writer.write(new Uint8Array([7, 8, 9]));
    assert.deepEqual(await readCount(readable, 2), [
      "text",
      new Uint8Array([7, 8, 9]),
    ]);
    client.close({ closeCode: 4001, reason: "client done" });
    assert.deepEqual(await client.closed, {
      closeCode: 4001,
      reason: "client done",
    });

    const second = new WebSocketStream(url);
    const opened = await second.opened;
    await opened.writable.getWriter().write("close yourself");
    assert.deepEqual(await second.closed, {
      closeCode: 4002,
      reason: "server done",
    });
    assert.deepEqual(await Promise.all(serverClosed), [
      { code: 4001, reason: "client done" },
      { code: 4002, reason: "server done" },
    ]);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
