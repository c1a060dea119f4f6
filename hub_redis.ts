/**
 * The Redis engine of the hub: `new Hub({ engine: new RedisEngine({ url }) })`
 * and every process on that Redis shares the hub's topics. It depends on
 * `npm:redis` (node-redis), which is why it has an export of its own:
 * `@streams/websocket` and `@streams/websocket/hub` have no dependencies.
 *
 * @example Recovery: clients learn offsets and pass the last one back
 * ```ts ignore
 * import { Hub } from "@streams/websocket/hub";
 * import { RedisEngine } from "@streams/websocket/hub/redis";
 *
 * const engine = new RedisEngine({
 *   url: "redis://127.0.0.1:6379",
 *   history: { maxLength: 1000 },
 * });
 * const hub = new Hub({ engine });
 * const writable = new WritableStream(); // a WebSocketStream's writable
 * // Each message goes out as {"offset":"…","data":"…"}; the client keeps the
 * // last offset and sends it back when it reconnects (a query parameter).
 * const since = new URL("ws://x/?since=1700000000000-0").searchParams.get("since");
 * const subscription = hub.subscribe("room", writable, {
 *   encode: ({ offset, data }) => JSON.stringify({ offset, data }),
 *   ...(since === null ? {} : { since }),
 * });
 * const { recovered, count } = await subscription.recovery!;
 * if (!recovered) subscription.send(JSON.stringify({ gap: true }));
 * console.log(count);
 * await hub.close();
 * ```
 *
 * @module
 */

export {
  RedisEngine,
  type RedisEngineOptions,
} from "./src/hub/redis_engine.ts";
export type {
  HubEngine,
  HubEngineReceiver,
  HubHistory,
  HubLossReport,
} from "./src/hub/engine.ts";
