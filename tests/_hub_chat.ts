/**
 * A chat room for the hub's tests: every WebSocketStream that connects is
 * subscribed to "room" and publishes what it sends there.
 *
 * @module
 */

import {
  upgradeWebSocketStream,
  type UpgradeWebSocketStreamOptions,
} from "../mod.ts";
import type { Hub } from "../hub.ts";

/** Serves the room on an ephemeral loopback port. */
export function serveChatRoom(
  hub: Hub,
  options: UpgradeWebSocketStreamOptions = {},
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const { response, stream } = upgradeWebSocketStream(request, options);
      stream?.opened.then(async ({ readable, writable }) => {
        hub.subscribe("room", writable);
        for await (const message of readable) {
          hub.publish("room", message as string);
        }
      }).catch(() => {});
      return response;
    },
  );
}
