/**
 * A client process of `deno task bench:hub`: opens COUNT connections to
 * URL (plain WebSockets, or Socket.IO clients with KIND `socketio`), prints
 * `ready`, and on a `go` line on stdin has its first PUBLISHERS connections
 * each send MESSAGES messages of SIZE bytes, one every INTERVAL ms, each
 * starting with its send time. It counts what arrives and each message's
 * latency (receive time minus send time) until every connection got EXPECTED
 * messages or nothing came for 3 s, and prints the result as JSON.
 *
 * Usage: `deno run -A bench/hub/_clients.ts URL COUNT EXPECTED [KIND
 * PUBLISHERS MESSAGES SIZE INTERVAL]`
 *
 * @module
 */

import { io, type Socket } from "socket.io-client";

const [url, count, expected, kind = "ws"] = [
  Deno.args[0]!,
  Number(Deno.args[1]),
  Number(Deno.args[2]),
  Deno.args[3],
];
const [publishers, messages, size, interval] = Deno.args.slice(4).map(Number);
const latencies: number[] = [];
let received = 0;
let closed = 0;
let lastAt = 0;
const done = Promise.withResolvers<void>();
const now = () => performance.timeOrigin + performance.now();

/** One connection, whichever the kind. */
interface Connection {
  send(message: string): void;
  close(): void;
}

function onMessage(data: string, counter: { got: number }): void {
  lastAt = now();
  latencies.push(lastAt - Number(data.slice(0, data.indexOf(" "))));
  received++;
  if (++counter.got === expected && received === count * expected) {
    done.resolve();
  }
}

function open(): Promise<Connection> {
  const counter = { got: 0 };
  return new Promise((resolve, reject) => {
    if (kind === "socketio") {
      const socket: Socket = io(url, {
        transports: ["websocket"],
        reconnection: false,
      });
      socket.on("connect", () =>
        resolve({
          send: (message) => socket.emit("m", message),
          close: () => socket.close(),
        }));
      socket.on("connect_error", reject);
      socket.on("disconnect", () => closed++);
      socket.on("m", (data: string) => onMessage(data, counter));
      return;
    }
    const socket = new WebSocket(url);
    socket.onopen = () =>
      resolve({
        send: (message) => socket.send(message),
        close: () => socket.close(),
      });
    socket.onerror = () => reject(new Error("Cannot connect"));
    socket.onclose = () => closed++;
    socket.onmessage = ({ data }) => onMessage(data as string, counter);
  });
}

const connections: Connection[] = [];
for (let i = 0; i < count; i += 50) {
  connections.push(
    ...await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, open),
    ),
  );
}
console.log("ready");
const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream())
  .getReader();
await lines.read();
if (publishers !== undefined && publishers > 0) {
  const padding = "x".repeat(size!);
  let sent = 0;
  const timer = setInterval(() => {
    for (const connection of connections.slice(0, publishers)) {
      connection.send(`${now().toFixed(3)} ${padding}`.slice(0, size));
    }
    if (++sent === messages) clearInterval(timer);
  }, interval);
}
const idle = setInterval(() => {
  if (lastAt > 0 && now() - lastAt > 3000) done.resolve();
}, 500);
await done.promise;
clearInterval(idle);
latencies.sort((a, b) => a - b);
// A sample of the sorted latencies is enough for percentiles.
const step = Math.max(1, Math.floor(latencies.length / 2000));
console.log(JSON.stringify({
  received,
  closedEarly: closed,
  lastAt,
  latencies: latencies.filter((_, i) => i % step === 0),
}));
for (const connection of connections) connection.close();
Deno.exit(0);
