/**
 * A broadcast chat room on the hub (`@streams/websocket/hub`): what anyone
 * says, everyone else hears, in the browser page the server serves or in the
 * terminal client. Several server processes share the room through Redis.
 *
 * Each member has its own queue in the hub, bounded in bytes; one that stops
 * reading is closed with 4008 "Subscriber too slow" and the room goes on at
 * its pace.
 *
 * ```sh
 * # A server (the page is at http://127.0.0.1:8080/):
 * deno run --allow-net --allow-read examples/broadcast_chat.ts --port 8080
 * # Two servers, one room (the Redis engine needs --allow-env and --allow-sys):
 * deno run -A examples/broadcast_chat.ts --port 8080 --redis redis://127.0.0.1:6379
 * deno run -A examples/broadcast_chat.ts --port 8081 --redis redis://127.0.0.1:6379
 * # A terminal member: lines typed are said, what is said is printed; it
 * # leaves at the end of its input (Ctrl-D):
 * deno run --allow-net examples/broadcast_chat.ts --connect ws://127.0.0.1:8081/ --name ada
 * ```
 *
 * @module
 */

import { upgradeWebSocketStream, WebSocketStream } from "../mod.ts";
import { Hub, type HubEngine, SLOW_SUBSCRIBER_CLOSE_CODE } from "../hub.ts";

/** The close code a member too slow to keep up is dropped with. */
export const SLOW_CLIENT_CLOSE_CODE = SLOW_SUBSCRIBER_CLOSE_CODE;

/** What a member hears when it says more than the room takes at once. */
export const TOO_LONG = "(not sent: longer than the room takes)";

const ROOM = "room";
const PAGE = new URL("./broadcast_chat/index.html", import.meta.url);

/** Options for {@linkcode startChatServer}. */
export interface ChatServerOptions {
  /** The port to listen on; `0` picks a free one. */
  port: number;
  /** The interface to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
  /** Bytes that may wait for one member. @default {1048576} */
  maxQueuedBytes?: number;
  /** Shares the room with other servers (e.g. a `RedisEngine`). */
  engine?: HubEngine;
}

/** A running chat server. */
export interface ChatServer {
  /** Deno's server handle. */
  readonly server: Deno.HttpServer<Deno.NetAddr>;
  /** The room's hub. */
  readonly hub: Hub;
  /** How many members this server holds. */
  readonly clients: number;
}

/**
 * Starts the chat server: a WebSocket upgrade on any path joins the room
 * (the page uses `/ws`), any other request gets the page.
 */
export function startChatServer(options: ChatServerOptions): ChatServer {
  const hub = new Hub({
    ...(options.engine === undefined ? {} : { engine: options.engine }),
    ...(options.maxQueuedBytes === undefined
      ? {}
      : { maxQueuedBytes: options.maxQueuedBytes }),
    onLoss: ({ count, reason }) =>
      console.error(`lost ${count ?? "some"} messages: ${reason}`),
  });
  let clients = 0;
  const join = async (stream: WebSocketStream, name: string) => {
    const { readable, writable } = await stream.opened;
    clients++;
    try {
      const member = hub.subscribe(ROOM, writable);
      for await (const message of readable) {
        if (typeof message !== "string") continue;
        try {
          hub.publish(ROOM, `${name}: ${message}`, { except: writable });
        } catch (error) {
          // Longer than a member's queue holds: refused, and only its
          // sender hears of it.
          if (!(error instanceof RangeError)) throw error;
          member.send(TOO_LONG);
        }
      }
    } finally {
      clients--;
    }
  };
  const server = Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    onListen: () => {},
  }, async (request) => {
    const url = new URL(request.url);
    if (request.headers.get("upgrade") !== "websocket") {
      return new Response(await Deno.readTextFile(PAGE), {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    }
    const { response, stream } = upgradeWebSocketStream(request, {
      // A dropped member that does not answer is cut off after 2 s.
      closeTimeout: 2000,
    });
    const name = url.searchParams.get("name") ?? "anonymous";
    // A member leaving without a clean close ends its loop with an error.
    if (stream !== undefined) join(stream, name).catch(() => {});
    return response;
  });
  server.finished.then(() => hub.close());
  return {
    server,
    hub,
    get clients() {
      return clients;
    },
  };
}

/**
 * The terminal member: stdin lines are said, what is said is printed. Ends
 * at the end of its input, or when the server ends the connection; resolves
 * with the exit status.
 */
async function chatInTerminal(url: string, name: string): Promise<number> {
  const target = new URL(url);
  target.searchParams.set("name", name);
  const wss = new WebSocketStream(target.href);
  try {
    const { readable, writable } = await wss.opened;
    console.log(`joined ${url} as ${name}`);
    const printing = readable.pipeTo(
      new WritableStream({ write: (message) => console.log(message) }),
    ).catch(() => {});
    await Deno.stdin.readable
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(splitLines())
      .pipeTo(writable, { preventClose: true })
      // The server ended the connection: `closed` says how.
      .catch(() => {});
    wss.close({ closeCode: 1000, reason: `${name} left` });
    const { closeCode, reason } = await wss.closed;
    await printing;
    console.log(`closed: ${closeCode} ${reason}`);
    return 0;
  } catch (error) {
    console.error(
      `Cannot chat in ${url}: ${
        error instanceof Error ? error.message : error
      }`,
    );
    return 1;
  }
}

function splitLines(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) if (line !== "") controller.enqueue(line);
    },
    flush(controller) {
      if (rest !== "") controller.enqueue(rest);
    },
  });
}

function option(name: string): string | undefined {
  const at = Deno.args.indexOf(`--${name}`);
  return at < 0 ? undefined : Deno.args[at + 1];
}

if (import.meta.main) {
  const connect = option("connect");
  if (connect !== undefined) {
    Deno.exitCode = await chatInTerminal(connect, option("name") ?? "terminal");
  } else {
    const redis = option("redis");
    // Loaded only when asked for: the in-process hub has no dependencies.
    const engine = redis === undefined
      ? undefined
      : new (await import("../hub_redis.ts")).RedisEngine({ url: redis });
    const { server } = startChatServer({
      port: Number(option("port") ?? 8080),
      ...(engine === undefined ? {} : { engine }),
    });
    console.log(`Chat on http://127.0.0.1:${server.addr.port}/`);
  }
}
