/**
 * The default transport's reading of a `WebSocket`'s close event, over a
 * stand-in socket: browsers keep counting in `bufferedAmount` what they never
 * sent when the peer's Close arrived, and Deno's socket cannot be made to.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { TransportEvents } from "../src/transport.ts";
import { WebSocketTransport } from "../src/websocket_transport.ts";

/** An open socket whose `bufferedAmount` and events the test sets. */
class StandInSocket extends EventTarget {
  readyState = 1;
  bufferedAmount = 0;
  binaryType = "blob";
  protocol = "";
  extensions = "";
  send(): void {}
  close(): void {}
}

async function closeWith(bufferedAmount: number): Promise<boolean> {
  const socket = new StandInSocket();
  const closed = Promise.withResolvers<boolean>();
  const events: TransportEvents = {
    onOpen() {},
    onMessage: () => true,
    onOverflow() {},
    onClose: (_code, _reason, _failure, wasClean) => closed.resolve(wasClean),
  };
  new WebSocketTransport(socket as unknown as WebSocket, 1024).start(events);
  socket.bufferedAmount = bufferedAmount;
  socket.readyState = 3;
  socket.dispatchEvent(
    new CloseEvent("close", { code: 4567, reason: "", wasClean: true }),
  );
  return await closed.promise;
}

Deno.test("CLD-02 default transport: a peer's Close with our bytes still buffered is unclean, even where the socket calls it clean", async () => {
  assert.equal(await closeWith(0), true);
  assert.equal(await closeWith(20 * 1024 * 1024), false);
});

Deno.test("SRV-13 default transport: a script whose server shut down after a client dropped TCP ends, though Deno left its idle-timeout timer armed", async () => {
  // With idleTimeout 600 the process would live on for 300 s.
  const { code, signal, stdout, stderr } = await new Deno.Command(
    Deno.execPath(),
    {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        new URL("./fixtures/dropped_client_server.ts", import.meta.url)
          .pathname,
      ],
      stdin: "null",
      signal: AbortSignal.timeout(60_000),
    },
  ).output();
  const decoder = new TextDecoder();
  assert.equal(
    code,
    0,
    `the script did not end by itself (${signal ?? "no signal"}): ${
      decoder.decode(stderr)
    }`,
  );
  assert.equal(decoder.decode(stdout), "server shut down\n");
});

Deno.test("SRF-07 default transport: a client and an upgradeWebSocketStream server that echo never reach Node's process", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      new URL("./fixtures/echo_counting_process.ts", import.meta.url)
        .pathname,
    ],
    stdin: "null",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const decoder = new TextDecoder();
  assert.equal(code, 0, decoder.decode(stderr));
  assert.equal(decoder.decode(stdout), "process reached 0 times\n");
});
