/**
 * One benchmark measurement in a fresh process: one client, one workload,
 * one JSON line on stdout. `run.ts` starts it; run it by hand as
 *
 * ```sh
 * deno run --allow-net --allow-read bench/harness/client.ts \
 *   --client=ours --workload=echo --url=ws://127.0.0.1:PORT --count=1000
 * ```
 *
 * Clients: `ours` (this library), `plain` (Deno's `WebSocket`, written the
 * naive way) and `native` (Deno's `WebSocketStream`, needs `--unstable-net`).
 * `--transport=socket` makes ours speak the protocol itself over
 * `Deno.connect` instead of using Deno's `WebSocket`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  cpuMicros,
  cpuTimes,
  type CpuUsage,
  minorFaults,
  peakRss,
  sleep,
} from "./_process_stats.ts";
import { machine } from "./machine.ts";

/** The client a measurement runs. */
export type ClientKind = "plain" | "ours" | "native";

/** The workloads a client process can run. */
export type Workload =
  | "echo"
  | "upload"
  | "download"
  | "receive"
  | "handshakes"
  | "idle"
  | "machine";

interface OpenInfo {
  readable: ReadableStream<string | Uint8Array>;
  writable: WritableStream<unknown>;
}

/** What ours and Deno's native `WebSocketStream` have in common. */
interface StreamLike {
  readonly opened: Promise<OpenInfo>;
  readonly closed: Promise<{ closeCode?: number; reason?: string }>;
  close(info?: { closeCode?: number; reason?: string }): void;
}

/** What carries ours: Deno's `WebSocket` (the default) or its own socket. */
type Transport = "websocket" | "socket";

/** Ours' constructor options the benchmark varies; native is never given any. */
interface StreamOptions {
  writeHighWaterMark?: number;
  transport?: Transport;
}

type StreamConstructor = new (
  url: string,
  options?: StreamOptions,
) => StreamLike;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    client: { type: "string", default: "ours" },
    workload: { type: "string", default: "echo" },
    url: { type: "string", default: "ws://127.0.0.1:8080" },
    count: { type: "string", default: "1000" },
    warmup: { type: "string", default: "0" },
    size: { type: "string", default: "64" },
    window: { type: "string", default: "1" },
    text: { type: "boolean", default: false },
    bytes: { type: "string", default: String(256 * 1024 * 1024) },
    rate: { type: "string", default: String(20 * 1000 * 1000) },
    hwm: { type: "string" },
    transport: { type: "string" },
  },
});

const kind = values.client as ClientKind;
const count = Number(values.count);
const size = Number(values.size);
const bytes = Number(values.bytes);
const streamOptions: StreamOptions = {
  ...values.hwm === undefined ? {} : { writeHighWaterMark: Number(values.hwm) },
  ...values.transport === undefined ? {} : { transport: readTransport() },
};

function readTransport(): Transport {
  const { transport } = values;
  if (kind !== "ours") {
    throw new Error(`--transport is an option of ours, not of ${kind}`);
  }
  if (transport !== "websocket" && transport !== "socket") {
    throw new Error(`Unknown transport ${transport}`);
  }
  return transport;
}

async function streamConstructor(): Promise<StreamConstructor> {
  if (kind === "ours") {
    return (await import("../../mod.ts")).WebSocketStream as StreamConstructor;
  }
  const native =
    (globalThis as unknown as { WebSocketStream?: StreamConstructor })
      .WebSocketStream;
  if (native === undefined) {
    throw new Error("Deno's WebSocketStream needs --unstable-net");
  }
  return native;
}

function openPlain(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve(socket);
    socket.onerror = (event) =>
      reject(new Error(`Cannot connect to ${url}: ${errorText(event)}`));
  });
}

async function openStream(url: string): Promise<{
  stream: StreamLike;
  reader: ReadableStreamDefaultReader<string | Uint8Array>;
  writer: WritableStreamDefaultWriter<unknown>;
}> {
  const Stream = await streamConstructor();
  const stream = new Stream(url, streamOptions);
  const { readable, writable } = await stream.opened;
  return { stream, reader: readable.getReader(), writer: writable.getWriter() };
}

function errorText(event: Event): string {
  return event instanceof ErrorEvent ? event.message : event.type;
}

/** Echo round trips with at most `window` messages in flight. */
async function echo(): Promise<Record<string, number>> {
  const window = Number(values.window);
  const message = values.text ? "x".repeat(size) : new Uint8Array(size);
  const url = `${values.url}/echo`;
  let run: (n: number) => Promise<void>;
  if (kind === "plain") {
    const socket = await openPlain(url);
    run = (n) =>
      new Promise((resolve) => {
        let sent = 0;
        let received = 0;
        socket.onmessage = () => {
          if (++received === n) resolve();
          else if (sent < n) sent++, socket.send(message);
        };
        while (sent < Math.min(window, n)) sent++, socket.send(message);
      });
  } else {
    const { reader, writer } = await openStream(url);
    run = async (n) => {
      let sent = 0;
      let received = 0;
      let credit: (() => void) | undefined;
      const writing = (async () => {
        while (sent < n) {
          if (sent - received >= window) {
            await new Promise<void>((resolve) => credit = resolve);
          }
          sent++;
          await writer.write(message);
        }
      })();
      while (received < n) {
        const { done } = await reader.read();
        if (done) throw new Error("The echo connection closed early");
        received++;
        credit?.();
        credit = undefined;
      }
      await writing;
    };
  }
  await run(Number(values.warmup));
  const server = await serverUsage();
  const cpu = cpuMicros();
  const start = performance.now();
  await run(count);
  const seconds = (performance.now() - start) / 1000;
  const cpuMicrosPerMessage = (cpuMicros() - cpu) / count;
  const serverAfter = await serverUsage();
  return {
    seconds,
    messages: count,
    messagesPerSecond: count / seconds,
    cpuMicrosPerMessage,
    serverCpuMicrosPerMessage: (serverAfter.user + serverAfter.system -
      server.user - server.system) / count,
    serverSystemMicrosPerMessage: (serverAfter.system - server.system) /
      count,
    serverFaultsPerMessage: (serverAfter.faults - server.faults) / count,
  };
}

/**
 * Counts the wake-ups a send loop pays for: timers, and the turns of the event
 * loop a waiter can ask for (message-port messages and immediates). Installed
 * before the library loads, so that it sees whichever it uses; counts from
 * the last `start()`.
 */
function countWakeUps(): {
  start(): void;
  read(): { timers: number; turns: number };
} {
  let counting = false;
  let timers = 0;
  let turns = 0;
  const setTimer = globalThis.setTimeout;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    if (counting) timers++;
    return setTimer(...args);
  }) as typeof setTimeout;
  const post = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (
    this: MessagePort,
    ...args: Parameters<MessagePort["postMessage"]>
  ) {
    if (counting) turns++;
    return post.apply(this, args);
  } as MessagePort["postMessage"];
  const immediate = globalThis.setImmediate;
  if (typeof immediate === "function") {
    globalThis.setImmediate = ((...args: Parameters<typeof setImmediate>) => {
      if (counting) turns++;
      return immediate(...args);
    }) as typeof setImmediate;
  }
  return {
    start() {
      counting = true;
      timers = 0;
      turns = 0;
    },
    read: () => ({ timers, turns }),
  };
}

/**
 * Sends `bytes` in `size`-byte messages, each a fresh buffer as a file or
 * generator would hand over, and waits for the server to confirm receipt.
 */
async function upload(): Promise<Record<string, number>> {
  const url = `${values.url}/sink?bytes=${bytes}`;
  const messages = Math.ceil(bytes / size);
  let start: number;
  let cpu: { user: number; system: number };
  let faults: number;
  let blockedMs = 0;
  const wakeUps = countWakeUps();
  if (kind === "plain") {
    const socket = await openPlain(url);
    const done = new Promise<void>((resolve) =>
      socket.onmessage = () => resolve()
    );
    wakeUps.start();
    cpu = cpuTimes();
    faults = minorFaults();
    start = performance.now();
    for (let i = 0; i < messages; i++) socket.send(new Uint8Array(size));
    await done;
  } else {
    const { reader, writer } = await openStream(url);
    wakeUps.start();
    cpu = cpuTimes();
    faults = minorFaults();
    start = performance.now();
    for (let i = 0; i < messages; i++) {
      const before = performance.now();
      await writer.write(new Uint8Array(size));
      blockedMs += performance.now() - before;
    }
    const { value } = await reader.read();
    if (value !== "done") {
      throw new Error("The sink did not confirm the upload");
    }
  }
  const seconds = (performance.now() - start) / 1000;
  const now = cpuTimes();
  const client = {
    cpuMs: (now.user + now.system - cpu.user - cpu.system) / 1000,
    systemMs: (now.system - cpu.system) / 1000,
    faults: minorFaults() - faults,
    peakRss: peakRss(),
    ...wakeUps.read(),
  };
  // Also collects the server's garbage: on the server every client case
  // shares, the next measurement starts from a clean heap, whoever ran last.
  const server = await serverStats();
  return {
    seconds,
    bytes: messages * size,
    megabytesPerSecond: messages * size / 1e6 / seconds,
    serverCpuMs: server.sinkCpuMs,
    serverSystemMs: server.sinkSystemMs,
    serverFaults: server.sinkFaults,
    writeWaitMs: blockedMs,
    ...client,
  };
}

/**
 * Receives `bytes` while the application reads at most `rate` bytes/s. A
 * WebSocket cannot pause, so plain's queue grows and ours (by default) ends
 * with an overflow past its receive limit; with the socket transport ours
 * stops reading instead, and the transfer completes at the reader's pace.
 */
async function download(): Promise<Record<string, number | string | boolean>> {
  const url = `${values.url}/source?bytes=${bytes}&size=${size}`;
  const rate = Number(values.rate);
  let next: () => Promise<number | undefined>;
  if (kind === "plain") {
    const socket = await openPlain(url);
    // The naive reader: every message is kept until the application gets
    // to it, since a WebSocket cannot be paused.
    const queue: ArrayBuffer[] = [];
    let head = 0;
    let wake: (() => void) | undefined;
    let ended = false;
    socket.onmessage = (event) => {
      queue.push(event.data as ArrayBuffer);
      wake?.();
    };
    socket.onclose = () => {
      ended = true;
      wake?.();
    };
    next = async () => {
      while (head === queue.length && !ended) {
        await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
      }
      if (head === queue.length) return undefined;
      const data = queue[head]!;
      queue[head++] = undefined as unknown as ArrayBuffer;
      return data.byteLength;
    };
  } else {
    const { reader } = await openStream(url);
    next = async () => {
      const { value, done } = await reader.read();
      return done ? undefined : (value as Uint8Array).byteLength;
    };
  }
  let read = 0;
  let ending = "complete";
  const start = performance.now();
  try {
    while (read < bytes) {
      const length = await next();
      if (length === undefined) {
        ending = "closed early";
        break;
      }
      read += length;
      const ahead = read / rate * 1000 - (performance.now() - start);
      if (ahead > 0) await sleep(ahead);
    }
  } catch (error) {
    ending = error instanceof Error ? error.message : String(error);
  }
  return {
    seconds: (performance.now() - start) / 1000,
    bytesRead: read,
    peakRss: peakRss(),
    overflow: /receive queue limit/.test(ending),
    complete: ending === "complete",
    ending,
  };
}

/**
 * Sends `bytes` in `size`-byte messages to a server handler that reads at
 * most `rate` bytes/s, and reports the server's peak RSS: a server that
 * pauses its reading slows the writes down, one that cannot ends with an
 * overflow past its receive limit.
 */
async function receive(): Promise<Record<string, number | string | boolean>> {
  const url = `${values.url}/slow-sink?bytes=${bytes}&rate=${values.rate}`;
  const { stream, reader, writer } = await openStream(url);
  const confirmed = reader.read();
  confirmed.catch(() => {});
  let sent = 0;
  let ending = "complete";
  const start = performance.now();
  try {
    while (sent < bytes) {
      await writer.write(new Uint8Array(size));
      sent += size;
    }
    if ((await confirmed).value !== "done") ending = "closed early";
  } catch (error) {
    ending = error instanceof Error ? error.message : String(error);
  }
  const seconds = (performance.now() - start) / 1000;
  const server = await serverStats();
  stream.close({ closeCode: 1000 });
  const end = await stream.closed.catch((error: unknown) => error) as {
    closeCode?: number;
  };
  return {
    seconds,
    bytesSent: sent,
    serverPeakRss: server.peakRss,
    closeCode: end.closeCode ?? 0,
    // The client, still sending, may see only a dropped connection.
    overflow: server.sinkCloseCode === 4009,
    complete: ending === "complete",
    ending,
  };
}

/**
 * The server process's CPU time (µs) and minor page faults so far: the whole
 * process's, so a client case's shared server counts its idle work too.
 */
async function serverUsage(): Promise<CpuUsage & { faults: number }> {
  const response = await fetch(`${values.url.replace(/^ws/, "http")}/usage`);
  return await response.json();
}

/** The server's memory figures, after it collected garbage. */
async function serverStats() {
  const response = await fetch(`${values.url.replace(/^ws/, "http")}/stats`);
  return await response.json() as Deno.MemoryUsage & {
    peakRss: number;
    open: number;
    sinkCloseCode: number;
    sinkCpuMs: number;
    sinkSystemMs: number;
    sinkFaults: number;
  };
}

/** Opens and cleanly closes `count` connections, one after another. */
async function handshakes(): Promise<Record<string, number>> {
  const url = `${values.url}/echo`;
  let once: () => Promise<boolean>;
  if (kind === "plain") {
    once = () =>
      new Promise((resolve) => {
        const socket = new WebSocket(url);
        socket.onopen = () => socket.close(1000);
        socket.onerror = () => {};
        socket.onclose = (event) =>
          resolve(event.wasClean && event.code === 1000);
      });
  } else {
    const Stream = await streamConstructor();
    once = async () => {
      const stream = new Stream(url, streamOptions);
      try {
        await stream.opened;
        stream.close({ closeCode: 1000 });
        return (await stream.closed).closeCode === 1000;
      } catch {
        return false;
      }
    };
  }
  for (let i = 0; i < Number(values.warmup); i++) await once();
  let unclean = 0;
  const cpu = cpuMicros();
  const start = performance.now();
  for (let i = 0; i < count; i++) if (!await once()) unclean++;
  const seconds = (performance.now() - start) / 1000;
  return {
    seconds,
    connectionsPerSecond: count / seconds,
    cpuMicrosPerConnection: (cpuMicros() - cpu) / count,
    unclean,
  };
}

/**
 * Holds `count` idle connections open and asks the server what they cost it.
 * The client is always a plain `WebSocket`: only the server side varies.
 */
async function idle(): Promise<Record<string, number>> {
  const openMany = async (n: number) => {
    const sockets: WebSocket[] = [];
    for (let i = 0; i < n; i += 50) {
      const batch = Array.from(
        { length: Math.min(50, n - i) },
        () => openPlain(`${values.url}/echo`),
      );
      sockets.push(...await Promise.all(batch));
    }
    return sockets;
  };
  const closeAll = (sockets: WebSocket[]) =>
    Promise.all(sockets.map((socket) =>
      new Promise((resolve) => {
        socket.onclose = resolve;
        socket.close(1000);
      })
    ));
  // Warm the server's code paths so the baseline already includes them.
  await closeAll(await openMany(Number(values.warmup)));
  await sleep(100);
  const before = await serverStats();
  const sockets = await openMany(count);
  await sleep(200);
  const after = await serverStats();
  if (after.open !== count) {
    throw new Error(`The server holds ${after.open} connections, not ${count}`);
  }
  await closeAll(sockets);
  const per = (key: "rss" | "heapUsed" | "external") =>
    (after[key] - before[key]) / count;
  return {
    connections: count,
    rssPerConnection: per("rss"),
    heapPerConnection: per("heapUsed"),
    externalPerConnection: per("external"),
  };
}

const workloads: Record<Workload, () => Promise<unknown>> = {
  echo,
  upload,
  download,
  receive,
  handshakes,
  idle,
  machine,
};
const workload = workloads[values.workload as Workload];
if (workload === undefined) {
  throw new Error(`Unknown workload ${values.workload}`);
}
console.log(JSON.stringify(await workload()));
// Connections still closing must not hold the measurement's process.
Deno.exit(0);
