/**
 * The server of `deno task bench:hub`: fans each published message out to
 * every connected client, through the hub (`hub`) or through a hand-written
 * loop over `Deno.upgradeWebSocket` sockets (`plain`). `GET /go?messages=N&size=B`
 * publishes N messages of B bytes, each starting with its send time; `GET
 * /stats` answers the peak RSS seen while publishing.
 *
 * Usage: `deno run -A bench/hub/_server.ts hub|plain`
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { upgradeWebSocketStream } from "../../mod.ts";
import { Hub } from "../../hub.ts";

const mode = Deno.args[0] === "plain" ? "plain" : "hub";
const hub = new Hub();
const sockets = new Set<WebSocket>();
let peakRss = 0;

/** Messages per event-loop turn: the rest of the turn is the sockets' I/O. */
const BATCH = 20;

function publishAll(messages: number, size: number): void {
  const sample = setInterval(() => {
    peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
  }, 50);
  let sent = 0;
  const padding = "x".repeat(size);
  const turn = () => {
    for (let i = 0; i < BATCH && sent < messages; i++, sent++) {
      const stamp = (performance.timeOrigin + performance.now()).toFixed(3);
      const message = `${stamp} ${padding}`.slice(0, size);
      if (mode === "hub") hub.publish("bench", message);
      else for (const socket of sockets) socket.send(message);
    }
    if (sent < messages) setImmediate(turn);
    else setTimeout(() => clearInterval(sample), 2000);
  };
  turn();
}

const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, (request) => {
  const url = new URL(request.url);
  if (url.pathname === "/go") {
    publishAll(
      Number(url.searchParams.get("messages")),
      Number(url.searchParams.get("size")),
    );
    return new Response("ok");
  }
  if (url.pathname === "/stats") {
    return Response.json({
      peakRss,
      clients: mode === "hub" ? null : sockets.size,
    });
  }
  if (mode === "hub") {
    const { response, stream } = upgradeWebSocketStream(request);
    stream?.opened.then(({ writable }) => hub.subscribe("bench", writable))
      .catch(() => {});
    return response;
  }
  const { response, socket } = Deno.upgradeWebSocket(request);
  socket.onopen = () => sockets.add(socket);
  socket.onclose = () => sockets.delete(socket);
  socket.onerror = () => sockets.delete(socket);
  return response;
});
await server.finished;
