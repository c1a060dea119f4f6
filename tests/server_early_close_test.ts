import assert from "node:assert/strict";
import { upgradeWebSocketStream, WebSocketStream } from "../mod.ts";
import { serve } from "./_wpt_server.ts";

Deno.test("SRV-11 Deno.serve: close() before the 101 response is sent closes right after opening", async () => {
  let serverClosed: Promise<unknown> | undefined;
  await using server = serve((request) => {
    const { response, stream } = upgradeWebSocketStream(request);
    assert.ok(stream);
    stream.close({ closeCode: 1008, reason: "policy" });
    serverClosed = stream.closed;
    return response;
  });
  const wss = new WebSocketStream(server.url);
  await wss.opened;
  assert.deepEqual(await wss.closed, { closeCode: 1008, reason: "policy" });
  assert.deepEqual(await serverClosed, { closeCode: 1008, reason: "policy" });
});
