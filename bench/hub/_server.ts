/**
 * A server of `deno task bench:hub`, by mode:
 * - `hub`, `plain`: one process fanning out what it publishes itself (on
 *   `GET /go?messages=N&size=B`), through the hub or through a hand-written
 *   loop over `Deno.upgradeWebSocket` sockets;
 * - `hub-redis`, `socketio`: one of several processes on one Redis
 *   (`REDIS_URL`), each relaying what its clients send to every client of
 *   every process: the hub with `RedisEngine`, or Socket.IO 4 with
 *   `@socket.io/redis-adapter` (Pub/Sub).
 *
 * The hub modes serve their WebSockets through `upgradeWebSocketStream` in
 * `Deno.serve` (PATH `deno`, the default) or through `handleUpgrade` on a
 * `node:http` server (PATH `node`), the path Socket.IO rides on too.
 *
 * It prints `listening <port>`; `GET /stats` answers its CPU time and peak
 * RSS.
 *
 * Usage: `deno run -A bench/hub/_server.ts MODE [PATH]`
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { createServer } from "node:http";
import { upgradeWebSocketStream, type WebSocketStream } from "../../mod.ts";
import { handleUpgrade } from "../../node.ts";
import { Hub } from "../../hub.ts";
import { cpuMicros, peakRss } from "../harness/_process_stats.ts";

const [mode, path = "deno"] = Deno.args;
const TOPIC = "bench";
/** Messages per event-loop turn: the rest of the turn is the sockets' I/O. */
const BATCH = 20;

// Exiting on SIGTERM lets `--cpu-prof` write its profile.
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));

const stats = () => ({ cpuMicros: cpuMicros(), peakRss: peakRss() });

if (mode === "socketio") await serveSocketIo();
else await serveWebSockets();

async function serveWebSockets(): Promise<void> {
  const engine = mode === "hub-redis"
    ? new (await import("../../hub_redis.ts")).RedisEngine({
      url: Deno.env.get("REDIS_URL")!,
    })
    : undefined;
  const hub = new Hub(engine === undefined ? {} : { engine });
  await engine?.ready;
  const sockets = new Set<WebSocket>();

  const publishAll = (messages: number, size: number) => {
    let sent = 0;
    const padding = "x".repeat(size);
    const turn = () => {
      for (let i = 0; i < BATCH && sent < messages; i++, sent++) {
        const stamp = (performance.timeOrigin + performance.now()).toFixed(3);
        const message = `${stamp} ${padding}`.slice(0, size);
        if (mode === "plain") {
          for (const socket of sockets) socket.send(message);
        } else hub.publish(TOPIC, message);
      }
      if (sent < messages) setImmediate(turn);
    };
    turn();
  };

  /** Subscribes a client and publishes what it sends. */
  const relay = (stream: WebSocketStream | undefined) => {
    stream?.opened.then(async ({ readable, writable }) => {
      hub.subscribe(TOPIC, writable);
      for await (const message of readable) {
        hub.publish(TOPIC, message as string);
      }
    }).catch(() => {});
  };
  /** Answers `/go` and `/stats`, or `undefined` for an upgrade. */
  const route = (url: URL): string | undefined => {
    if (url.pathname === "/go") {
      publishAll(
        Number(url.searchParams.get("messages")),
        Number(url.searchParams.get("size")),
      );
      return "ok";
    }
    if (url.pathname === "/stats") return JSON.stringify(stats());
    return undefined;
  };

  if (path === "node") {
    const http = createServer((request, response) => {
      response.end(route(new URL(request.url!, "http://localhost")) ?? "");
    });
    http.on("upgrade", (request, socket, head) => {
      relay(handleUpgrade(request, socket, head));
    });
    listen(http);
    return;
  }
  Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => console.log(`listening ${port}`),
  }, (request) => {
    const answer = route(new URL(request.url));
    if (answer !== undefined) return new Response(answer);
    if (mode === "plain") {
      const { response, socket } = Deno.upgradeWebSocket(request);
      socket.onopen = () => sockets.add(socket);
      socket.onclose = () => sockets.delete(socket);
      socket.onerror = () => sockets.delete(socket);
      return response;
    }
    const { response, stream } = upgradeWebSocketStream(request);
    relay(stream);
    return response;
  });
}

/** Listens on a free loopback port and prints it. */
function listen(http: ReturnType<typeof createServer>): void {
  http.listen(0, "127.0.0.1", () => {
    const address = http.address();
    if (typeof address === "object" && address !== null) {
      console.log(`listening ${address.port}`);
    }
  });
}

async function serveSocketIo(): Promise<void> {
  const { Server } = await import("socket.io");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const { createClient } = await import("redis");
  const pub = createClient({ url: Deno.env.get("REDIS_URL")! });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const http = createServer((request, response) => {
    if (request.url === "/stats") {
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify(stats()));
    }
  });
  const io = new Server(http, {
    adapter: createAdapter(pub, sub),
    transports: ["websocket"],
  });
  io.on("connection", (socket) => {
    socket.on("m", (message: string) => io.emit("m", message));
  });
  listen(http);
}
