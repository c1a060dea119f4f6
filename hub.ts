/**
 * Fan-out for WebSocket servers: publish a message once on a topic, every
 * subscribed writable gets it. Each subscriber has its own queue bounded in
 * bytes, so one slow client never stalls or bloats the others; a full queue
 * closes its connection with {@linkcode SLOW_SUBSCRIBER_CLOSE_CODE} or skips
 * messages, by policy. With an engine, hubs in other workers
 * ({@linkcode BroadcastChannelEngine}) or processes and machines
 * (`RedisEngine` from `@streams/websocket/hub/redis`) share the topics.
 *
 * No dependencies: it runs wherever web streams do.
 *
 * @example A broadcast to every connected client
 * ```ts
 * import { upgradeWebSocketStream } from "@streams/websocket";
 * import { Hub } from "@streams/websocket/hub";
 *
 * const hub = new Hub();
 * const server = Deno.serve({ port: 0, onListen() {} }, (request) => {
 *   const { response, stream } = upgradeWebSocketStream(request);
 *   stream?.opened.then(({ writable }) => hub.subscribe("ticks", writable))
 *     .catch(() => {});
 *   return response;
 * });
 * hub.publish("ticks", JSON.stringify({ now: Date.now() }));
 * await hub.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */

export { Hub } from "./src/hub/hub.ts";
export {
  DEFAULT_MAX_QUEUED_BYTES,
  type HubOptions,
  type PublishOptions,
  SLOW_SUBSCRIBER_CLOSE_CODE,
  type SlowSubscriberPolicy,
  type SubscribeOptions,
} from "./src/hub/options.ts";
export type {
  HubMessage,
  HubRecovery,
  Subscription,
} from "./src/hub/subscription.ts";
export type {
  HubEngine,
  HubEngineReceiver,
  HubHistory,
  HubLossReport,
} from "./src/hub/engine.ts";
export {
  BroadcastChannelEngine,
  type BroadcastChannelEngineOptions,
} from "./src/hub/broadcast_channel_engine.ts";
