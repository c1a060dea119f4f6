import assert from "node:assert/strict";
import { clientTest, type ClientTransport } from "./_transports.ts";
import { BOUND_MS, domException, fulfilmentWithin } from "./_assert.ts";
import { readHead, startRawServer } from "./_raw_server.ts";
import { startWptServer } from "./_wpt_server.ts";

clientTest(
  "CTR-16 an aborted signal means no connection is attempted",
  async (transport) => {
    await using server = startRawServer((connection) =>
      connection.drainUntilEnd()
    );
    const controller = new AbortController();
    controller.abort();
    const wss = transport.connect(server.url, { signal: controller.signal });
    await assert.rejects(wss.opened, domException("AbortError"));
    await assert.rejects(wss.closed, domException("AbortError"));
    // A connection attempt would have been accepted by now.
    const probe = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    probe.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(server.accepted, 1, "only the probe connected");
  },
);

clientTest(
  "CTR-17 OPN-06 aborting during the handshake rejects both promises with the signal's reason",
  async (transport) => {
    await using server = startWptServer();
    for (const reason of [undefined, new Error("custom reason")]) {
      const controller = new AbortController();
      const wss = transport.connect(`${server.url}/handshake_sleep?ms=300`, {
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(reason), 50);
      const expected = (error: unknown) => {
        if (reason === undefined) domException("AbortError")(error);
        else assert.equal(error, reason);
        return true;
      };
      await assert.rejects(wss.opened, expected);
      await assert.rejects(wss.closed, expected);
    }
  },
);

clientTest(
  "CTR-18 aborting after the connection opened does nothing",
  async (transport) => {
    await using server = startWptServer();
    const controller = new AbortController();
    const wss = transport.connect(`${server.url}/echo`, {
      signal: controller.signal,
    });
    const { readable, writable } = await wss.opened;
    controller.abort();
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write("still open");
    assert.deepEqual(await reader.read(), { value: "still open", done: false });
    wss.close({ closeCode: 1000 });
    assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "" });
  },
);

clientTest(
  "CTR-17 CTR-18 a signal shared by several streams aborts those still connecting, not those open",
  async (transport) => {
    await using server = startWptServer();
    const controller = new AbortController();
    const { signal } = controller;
    const open = transport.connect(`${server.url}/echo`, { signal });
    const { readable, writable } = await open.opened;
    const connecting = [1, 2, 3].map(() =>
      transport.connect(`${server.url}/handshake_sleep?ms=300`, { signal })
    );
    const reason = new Error("shared abort");
    controller.abort(reason);
    for (const wss of connecting) {
      await assert.rejects(wss.opened, (error) => error === reason);
      await assert.rejects(wss.closed, (error) => error === reason);
    }
    const writer = writable.getWriter();
    await writer.write("still open");
    assert.deepEqual(await readable.getReader().read(), {
      value: "still open",
      done: false,
    });
    open.close({ closeCode: 1000 });
    assert.deepEqual(await open.closed, { closeCode: 1000, reason: "" });
  },
);

clientTest(
  "CTR-19 close() after an abort does not throw and changes nothing",
  async (transport) => {
    await using server = startWptServer();
    const before = transport.connect(`${server.url}/echo`, {
      signal: AbortSignal.abort(),
    });
    before.close({ closeCode: 3000 });
    await assert.rejects(before.opened, domException("AbortError"));
    await assert.rejects(before.closed, domException("AbortError"));

    const controller = new AbortController();
    const during = transport.connect(`${server.url}/handshake_sleep?ms=300`, {
      signal: controller.signal,
    });
    controller.abort();
    during.close();
    await assert.rejects(during.opened, domException("AbortError"));
    await assert.rejects(during.closed, domException("AbortError"));
  },
);

/**
 * A listener that lets the test act at one stage of the opening handshake,
 * then waits for the client to give the connection up.
 */
async function abortAtStage(
  transport: ClientTransport,
  stage: "accepted" | "request sent",
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const controller = new AbortController();
  const reason = new Error(`aborted once the ${stage}`);
  const wss = transport.connect(`ws://127.0.0.1:${listener.addr.port}/`, {
    signal: controller.signal,
  });
  const conn = await listener.accept();
  listener.close();
  if (stage === "request sent") {
    assert.match((await readHead(conn))!.head, /^GET \/ HTTP\/1\.1/);
  }
  controller.abort(reason);
  await assert.rejects(wss.opened, (error) => error === reason);
  await assert.rejects(wss.closed, (error) => error === reason);
  // The client let go of the connection: no 101 will ever be read.
  const buffer = new Uint8Array(1024);
  const drained = (async () => {
    while (await conn.read(buffer).catch(() => null) !== null) { /* drain */ }
  })();
  try {
    await fulfilmentWithin(drained, BOUND_MS, "the client dropping TCP");
  } finally {
    conn.close();
    await drained;
  }
}

clientTest(
  "CTR-17 aborting once TCP is accepted, before the request, rejects both promises and drops the connection",
  async (transport) => {
    await abortAtStage(transport, "accepted");
  },
);

clientTest(
  "CTR-17 aborting once the request is sent, before the response, rejects both promises and drops the connection",
  async (transport) => {
    await abortAtStage(transport, "request sent");
  },
);
