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
