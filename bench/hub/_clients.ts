/**
 * A client process of `deno task bench:hub`: opens COUNT plain WebSockets to
 * URL, prints `ready`, then counts what arrives and each message's latency
 * (receive time minus the send time it starts with) until every socket got
 * EXPECTED messages or nothing came for 3 s; prints the result as JSON.
 *
 * Usage: `deno run -A bench/hub/_clients.ts URL COUNT EXPECTED`
 *
 * @module
 */

const [url, count, expected] = [
  Deno.args[0]!,
  Number(Deno.args[1]),
  Number(Deno.args[2]),
];
const latencies: number[] = [];
let received = 0;
let closed = 0;
let lastAt = 0;
const done = Promise.withResolvers<void>();

const sockets: WebSocket[] = [];
for (let i = 0; i < count; i += 50) {
  await Promise.all(
    Array.from(
      { length: Math.min(50, count - i) },
      () =>
        new Promise<void>((resolve, reject) => {
          const socket = new WebSocket(url);
          let got = 0;
          socket.onopen = () => resolve();
          socket.onerror = () => reject(new Error("Cannot connect"));
          socket.onclose = () => closed++;
          socket.onmessage = ({ data }) => {
            lastAt = performance.timeOrigin + performance.now();
            const sent = Number((data as string).slice(0, data.indexOf(" ")));
            latencies.push(lastAt - sent);
            received++;
            if (++got === expected && received === count * expected) {
              done.resolve();
            }
          };
          sockets.push(socket);
        }),
    ),
  );
}
console.log("ready");
const idle = setInterval(() => {
  const now = performance.timeOrigin + performance.now();
  if (lastAt > 0 && now - lastAt > 3000) done.resolve();
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
for (const socket of sockets) socket.close();
Deno.exit(0);
