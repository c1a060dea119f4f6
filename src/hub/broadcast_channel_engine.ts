/**
 * The {@linkcode BroadcastChannelEngine}: hubs in the workers of one process
 * (`deno serve --parallel`, Web Workers) share their topics.
 *
 * @module
 */

import { describeValue, readOptionsObject } from "../options.ts";
import type { HubEngine, HubEngineReceiver } from "./engine.ts";

const CONSTRUCT = "Cannot construct BroadcastChannelEngine";

/**
 * Options of {@linkcode BroadcastChannelEngine}.
 *
 * @example A channel of its own for one app
 * ```ts
 * import type { BroadcastChannelEngineOptions } from "@streams/websocket/hub";
 *
 * const options: BroadcastChannelEngineOptions = { name: "my-app" };
 * ```
 */
export interface BroadcastChannelEngineOptions {
  /** The channel's name. @default {"@streams/websocket/hub"} */
  name?: string;
}

/** What goes over the channel. */
interface ChannelMessage {
  topic: string;
  payload: Uint8Array;
}

/**
 * An engine over a `BroadcastChannel`: every hub on the same channel name in
 * this process, whichever worker it lives in, gets every message. On Deno
 * the channel does not reach other processes or machines: use the Redis
 * engine for those; and it needs Deno 2.6 or later, or
 * `--unstable-broadcast-channel` before. Nothing is lost while both ends
 * live, so it reports no losses. Nor is anything bounded between workers: the channel has no
 * backpressure, so a worker whose event loop falls behind the others'
 * publishing holds their messages in its event queue until it catches up.
 * (Each subscriber's own queue stays bounded, as in every hub.)
 *
 * An open channel keeps its worker running: `deno serve` stops on Ctrl-C
 * only once every worker's hub is closed, so close it on `SIGINT`.
 *
 * @example Sharing a room between the workers of `deno serve --parallel`
 * ```ts
 * import { upgradeWebSocketStream } from "@streams/websocket";
 * import { BroadcastChannelEngine, Hub } from "@streams/websocket/hub";
 *
 * const hub = new Hub({ engine: new BroadcastChannelEngine() });
 * // Without this, Ctrl-C leaves `deno serve` waiting on the open channel.
 * Deno.addSignalListener("SIGINT", () => hub.close());
 *
 * export default {
 *   fetch(request: Request): Response {
 *     const { response, stream } = upgradeWebSocketStream(request);
 *     stream?.opened.then(async ({ readable, writable }) => {
 *       hub.subscribe("room", writable);
 *       for await (const message of readable) hub.publish("room", message);
 *     }).catch(() => {});
 *     return response;
 *   },
 * } satisfies Deno.ServeDefaultExport;
 * ```
 */
export class BroadcastChannelEngine implements HubEngine {
  readonly #name: string;
  readonly #topics = new Set<string>();
  #channel: BroadcastChannel | undefined;
  #receiver: HubEngineReceiver | undefined;

  /**
   * Creates the engine; the channel opens when a hub takes it.
   *
   * @example Creating one
   * ```ts
   * import { BroadcastChannelEngine } from "@streams/websocket/hub";
   *
   * const engine = new BroadcastChannelEngine({ name: "chat" });
   * await engine.close();
   * ```
   *
   * @throws {TypeError} When `options` is not an object, `name` not a
   *   string, or the runtime has no `BroadcastChannel` (Deno before 2.6
   *   has it only with `--unstable-broadcast-channel`).
   */
  constructor(options: BroadcastChannelEngineOptions = {}) {
    const { name = "@streams/websocket/hub" } = readOptionsObject(
      options,
      CONSTRUCT,
    );
    if (typeof name !== "string") {
      throw new TypeError(
        `${CONSTRUCT}: options.name must be a string, received ${
          describeValue(name)
        }`,
      );
    }
    // Deno before 2.6 has it only behind a flag: say so here rather than
    // with a ReferenceError when a hub opens the engine.
    if (typeof globalThis.BroadcastChannel !== "function") {
      throw new TypeError(
        `${CONSTRUCT}: this runtime has no BroadcastChannel (Deno before 2.6 needs --unstable-broadcast-channel)`,
      );
    }
    this.#name = name;
  }

  /** Opens the channel and delivers to `receiver`. */
  open(receiver: HubEngineReceiver): void {
    // A hub opens its engine once; closing what another open left keeps the
    // process from being held open by a forgotten channel.
    this.#channel?.close();
    this.#receiver = receiver;
    this.#channel = new BroadcastChannel(this.#name);
    this.#channel.onmessage = ({ data }: MessageEvent<unknown>) => {
      // Anyone may post on the channel's name: what a hub did not post is
      // ignored, as an error thrown here would end the process.
      if (
        isChannelMessage(data) && this.#topics.has(data.topic)
      ) {
        receiver.receive(data.topic, data.payload);
      }
    };
  }

  /** Delivers here at once, and to the other hubs through the channel. */
  publish(topic: string, payload: Uint8Array): void {
    this.#channel?.postMessage({ topic, payload } satisfies ChannelMessage);
    // A channel does not deliver to its own sender.
    if (this.#topics.has(topic)) this.#receiver?.receive(topic, payload);
  }

  /** Delivers `topic`'s messages from now on. */
  follow(topic: string): void {
    this.#topics.add(topic);
  }

  /** Stops delivering `topic`'s messages. */
  unfollow(topic: string): void {
    this.#topics.delete(topic);
  }

  /** Closes the channel. */
  close(): Promise<void> {
    this.#channel?.close();
    this.#channel = undefined;
    this.#receiver = undefined;
    return Promise.resolve();
  }
}

function isChannelMessage(data: unknown): data is ChannelMessage {
  return typeof data === "object" && data !== null &&
    typeof (data as ChannelMessage).topic === "string" &&
    (data as ChannelMessage).payload instanceof Uint8Array;
}
