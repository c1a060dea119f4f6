/**
 * `deno task demo`: what backpressure looks like, in five seconds, on this
 * machine alone.
 *
 * A client writes 16 KiB messages as fast as `await writer.write()` lets it,
 * to a server behind a link that drains only 4 MiB/s: a TCP relay in this
 * process that reads slowly, standing in for a slow network or a peer that
 * stops reading. Writes wait while the socket's buffer is full, so the
 * producer runs at the link's pace, the data in flight stays small and memory
 * stays flat. Then the client closes with a code and reason, and both ends
 * report them.
 *
 * Receiving has no such brake: a WebSocket cannot ask its peer to pause, so a
 * reader that falls behind is protected by the bounded receive queue
 * (`receiveLimit`) instead; see the README.
 *
 * @module
 */

import {
  upgradeWebSocketStream,
  type WebSocketClosedInfo,
  WebSocketStream,
} from "../mod.ts";

/** Settings of {@linkcode runDemo}. */
interface DemoOptions {
  /** How long the producer runs, in seconds. */
  seconds: number;
  /** What the slow link drains, in bytes per second. */
  linkBytesPerSecond: number;
  /** The size of each message. */
  messageBytes: number;
  /** Prints a line. */
  print: (line: string) => void;
}

const MiB = 1024 * 1024;
const REPORT_MS = 500;

/** Runs the demo, printing what it sees. */
async function runDemo(options: DemoOptions): Promise<void> {
  const { print } = options;
  let received = 0;
  const serverClosed = Promise.withResolvers<WebSocketClosedInfo>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const { response, stream } = upgradeWebSocketStream(request);
      if (stream === undefined) return response;
      (async () => {
        const { readable } = await stream.opened;
        for await (const _ of readable) received++;
        serverClosed.resolve(await stream.closed);
      })().catch(serverClosed.reject);
      return response;
    },
  );
  const relay = startSlowRelay(server.addr.port, options.linkBytesPerSecond);

  const client = new WebSocketStream(`ws://127.0.0.1:${relay.port}/`);
  const { writable } = await client.opened;
  const writer = writable.getWriter();
  const message = new Uint8Array(options.messageBytes);
  print(
    `client -> [link: ${
      mib(options.linkBytesPerSecond)
    }/s] -> server; the client writes ${
      options.messageBytes / 1024
    } KiB messages as fast as it may`,
  );

  let sent = 0;
  let waitedMs = 0;
  let maxInFlight = 0;
  const start = performance.now();
  const report = () => {
    const inFlight = (sent - received) * options.messageBytes;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const elapsed = performance.now() - start;
    const { rss, heapUsed } = Deno.memoryUsage();
    print(
      `${(elapsed / 1000).toFixed(1).padStart(4)} s  sent ${
        mib(sent * options.messageBytes).padStart(9)
      }  received ${
        mib(received * options.messageBytes).padStart(9)
      }  in flight ${mib(inFlight).padStart(8)}  writer waited ${
        Math.round(100 * waitedMs / elapsed).toString().padStart(3)
      }%  rss ${mib(rss)}  heap ${mib(heapUsed)}`,
    );
  };
  const timer = setInterval(report, REPORT_MS);
  try {
    while (performance.now() - start < options.seconds * 1000) {
      const before = performance.now();
      await writer.write(message);
      waitedMs += performance.now() - before;
      sent++;
    }
  } finally {
    clearInterval(timer);
  }
  report();
  const producerMs = performance.now() - start;

  print(`closing with 1000 "demo finished"; the link drains what is in flight`);
  client.close({ closeCode: 1000, reason: "demo finished" });
  const clientClosed = await client.closed;
  const serverSaw = await serverClosed.promise;
  await relay.close();
  await server.shutdown();
  print(
    `server received ${received} of ${sent} messages, then the close: ${serverSaw.closeCode} "${serverSaw.reason}"`,
  );
  print(
    `client closed cleanly: ${clientClosed.closeCode} "${clientClosed.reason}"`,
  );
  print(
    `the producer averaged ${
      mib(sent * options.messageBytes / (producerMs / 1000))
    }/s, held to the link's pace; in flight never above ${mib(maxInFlight)}`,
  );
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/**
 * A TCP relay to `targetPort` that forwards the client's bytes at most
 * `bytesPerSecond` and the server's at full speed. Reading slowly is what
 * makes the client's socket buffer fill: the kernel stops accepting data.
 */
function startSlowRelay(targetPort: number, bytesPerSecond: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pipes = new Set<Promise<unknown>>();
  const accepting = (async () => {
    for await (const inbound of listener) {
      const outbound = await Deno.connect({
        hostname: "127.0.0.1",
        port: targetPort,
      });
      const both = Promise.allSettled([
        throttledCopy(inbound, outbound, bytesPerSecond),
        outbound.readable.pipeTo(inbound.writable),
      ]);
      pipes.add(both);
    }
  })();
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      await accepting.catch(() => {});
      await Promise.all(pipes);
    },
  };
}

async function throttledCopy(
  from: Deno.TcpConn,
  to: Deno.TcpConn,
  bytesPerSecond: number,
): Promise<void> {
  const buffer = new Uint8Array(16 * 1024);
  const start = performance.now();
  let copied = 0;
  try {
    while (true) {
      const read = await from.read(buffer);
      if (read === null) break;
      let offset = 0;
      while (offset < read) {
        offset += await to.write(buffer.subarray(offset, read));
      }
      copied += read;
      const due = start + copied / bytesPerSecond * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await to.closeWrite();
  } catch {
    // The other side went away; the WebSocket ends report how.
  }
}

if (import.meta.main) {
  await runDemo({
    seconds: 4,
    linkBytesPerSecond: 4 * MiB,
    messageBytes: 16 * 1024,
    print: console.log,
  });
}
