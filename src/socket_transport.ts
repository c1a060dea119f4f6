/**
 * The {@linkcode Transport} over a TCP connection from `Deno.connect` (with
 * `Deno.startTls` on it for `wss:`), speaking RFC 6455 itself. Unlike a `WebSocket`, it
 * reads only while the receiver has room, so a slow reader slows the peer
 * down through TCP instead of filling memory, and it learns that a write
 * has left from the write itself.
 *
 * @module
 */

import {
  checkHandshakeResponse,
  createHandshakeRequest,
  findHeadEnd,
  type HandshakeResult,
  MAX_RESPONSE_HEAD_BYTES,
} from "./client_handshake.ts";
import {
  closePayload,
  type FrameHeader,
  MAX_CONTROL_PAYLOAD,
  MAX_HEADER_BYTES,
  Opcode,
  readServerFrameHeader,
} from "./frame.ts";
import { isReceivableCloseCode } from "./close_code.ts";
import { describeError } from "./describe_error.ts";
import type { Message } from "./message.ts";
import { MESSAGE_OVERHEAD_BYTES } from "./receive_queue.ts";
import { OutgoingFrames } from "./outgoing_frames.ts";
import type { Transport, TransportEvents } from "./transport.ts";

/** What a {@linkcode SocketTransport} connects to and how. */
export interface SocketTransportOptions {
  /** A `ws:` or `wss:` URL without a fragment. */
  url: URL;
  protocols: readonly string[];
  headers: Headers | undefined;
  /** Sends resolve while at most this many bytes wait to be written. */
  highWaterMark: number;
  /**
   * The most a message may count, each of its frames counting 64 bytes more
   * (as the receive queue counts each message); longer messages are reported
   * with `onOverflow` and skipped as they arrive.
   */
  messageLimit: number;
}

/** How a session ended, as {@linkcode TransportEvents.onClose} takes it. */
type Outcome = Parameters<TransportEvents["onClose"]>;

/** An end without a closing handshake: 1006, for `failure`. */
function abnormal(failure: string): Outcome {
  return [null, "", failure, false];
}

/** The read buffer's first size: enough for a handshake answer and chat. */
const MIN_READ_BUFFER_BYTES = 4 * 1024;
/** The read buffer grows fourfold, up to this, while reads fill it. */
const MAX_READ_BUFFER_BYTES = 256 * 1024;
/**
 * The read buffer is compacted before a read once less than this is free
 * behind its data; a frame header or a control frame always fits in it, and
 * a payload longer than the buffer less this is read into its own array.
 */
const FILL_MARGIN = 2 * (MAX_HEADER_BYTES + MAX_CONTROL_PAYLOAD);
/**
 * How long the last frames (our Close) may take to leave, and then how long
 * the server may take to close TCP, before we hang up.
 */
const CLOSING_GRACE_MS = 1000;

/**
 * Resolves after one macrotask turn, long enough for a producer to queue its
 * next frames so that they leave in one write instead of a write each. Deno's
 * `setImmediate` takes about 5 µs (a timer, about 2 ms); where it is missing,
 * writes are not deferred.
 */
const nextTurn: () => Promise<void> = (() => {
  const { setImmediate } = globalThis as {
    setImmediate?: (callback: () => void) => unknown;
  };
  if (setImmediate === undefined) return () => Promise.resolve();
  return () => new Promise<void>((resolve) => setImmediate(resolve));
})();

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Why the connection is being failed, with the code our Close carries. */
class ProtocolFailure extends Error {
  constructor(readonly closeCode: number, message: string) {
    super(message);
  }
}

/** Speaks RFC 6455, client side, over a connection it opens itself. */
export class SocketTransport implements Transport {
  readonly #options: SocketTransportOptions;
  #conn: Deno.Conn | undefined;
  #connecting: AbortController | undefined;
  #terminated = false;
  /** Set when the connection broke while writing. */
  #writeFailure: string | undefined;

  // Reading: bytes [#start, #end) of #buffer are read but not yet parsed.
  #buffer = new Uint8Array(MIN_READ_BUFFER_BYTES);
  #start = 0;
  #end = 0;
  /** Set while the receiver has no room; resolved by `resume()`. */
  #paused: PromiseWithResolvers<void> | undefined;
  /** The data frames of the message being received. */
  #fragments: Uint8Array[] = [];
  /** What the message being received counts against `messageLimit`. */
  #messageCost = 0;
  /** The opcode of the message being received, or 0 between messages. */
  #messageOpcode = 0;
  /** The message being received is too long: its frames are skipped. */
  #skippingMessage = false;

  // Writing: frames wait in #outgoing until the connection takes them.
  readonly #outgoing = new OutgoingFrames();
  #writing: Promise<void> | undefined;
  #roomWaiter: PromiseWithResolvers<boolean> | undefined;
  /** Frames queued since the writer last ran dry. */
  #burstFrames = 0;
  /** Whether the writer waits a turn for more frames before writing. */
  #joinWrites = false;
  /** The payload of the latest Ping, until its Pong is queued. */
  #pendingPong: Uint8Array | undefined;
  #closeSent = false;

  constructor(options: SocketTransportOptions) {
    this.#options = options;
  }

  start(events: TransportEvents): void {
    const { url } = this.#options;
    // Deno's WebSocket asks for a missing permission, and throws when it is
    // refused, at construction; so do we, rather than only rejecting later.
    // (Permissions name IPv6 hosts with their brackets, as URLs do.)
    const host = `${url.hostname}:${endpointOf(url).port}`;
    const descriptor = { name: "net", host } as const;
    if (
      Deno.permissions.querySync(descriptor).state !== "granted" &&
      Deno.permissions.requestSync(descriptor).state !== "granted"
    ) {
      throw new Deno.errors.NotCapable(
        `Requires net access to "${host}", run again with the --allow-net flag`,
      );
    }
    this.#run(events);
  }

  async #run(events: TransportEvents): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = await this.#session(events);
    } catch (error) {
      outcome = this.#failed(describeError(error));
    }
    this.#hangUp();
    if (!this.#terminated) events.onClose(...outcome);
  }

  /** Connects, shakes hands and reads frames until the connection ends. */
  async #session(events: TransportEvents): Promise<Outcome> {
    const { url, protocols, headers } = this.#options;
    const conn = await this.#connect(url);
    if (this.#terminated) {
      conn.close();
      return abnormal("");
    }
    this.#conn = conn;
    const request = createHandshakeRequest(url, protocols, headers);
    await writeAll(conn, request.bytes);
    const answer = await this.#readHandshake(await request.expectedAccept);
    if (typeof answer === "string") {
      return abnormal(`WebSocket handshake failed: ${answer}`);
    }
    events.onOpen(answer.protocol, answer.extensions);
    if (this.#terminated) return abnormal("");
    try {
      return await this.#readFrames(events);
    } catch (error) {
      if (!(error instanceof ProtocolFailure)) throw error;
      // Failing the connection: tell the peer why if we still may.
      this.#sendClose(error.closeCode, "");
      await within(this.#writing, CLOSING_GRACE_MS);
      return abnormal(error.message);
    }
  }

  async #connect(url: URL): Promise<Deno.Conn> {
    const { hostname, port } = endpointOf(url);
    this.#connecting = new AbortController();
    try {
      const tcp = await Deno.connect({
        hostname,
        port,
        signal: this.#connecting.signal,
      });
      // Frames are written whole, and small ones are joined: waiting for
      // more (Nagle's algorithm) would only add latency.
      tcp.setNoDelay(true);
      if (url.protocol !== "wss:") return tcp;
      return await Deno.startTls(tcp, {
        hostname,
        alpnProtocols: ["http/1.1"],
      });
    } finally {
      this.#connecting = undefined;
    }
  }

  /** Reads the server's answer; what follows the head stays in the buffer. */
  async #readHandshake(
    expectedAccept: string,
  ): Promise<HandshakeResult | string> {
    let headEnd = -1;
    while (headEnd < 0) {
      if (this.#end >= MAX_RESPONSE_HEAD_BYTES) {
        return `the server's answer is longer than ${MAX_RESPONSE_HEAD_BYTES} bytes`;
      }
      if (!await this.#fill()) {
        return "the server closed the connection during the handshake";
      }
      headEnd = findHeadEnd(this.#buffer, this.#end);
    }
    this.#start = headEnd;
    const head = new TextDecoder().decode(
      this.#buffer.subarray(0, headEnd - 4),
    );
    return checkHandshakeResponse(head, expectedAccept);
  }

  /**
   * Reads more bytes into the buffer, making room first. Returns `false` at
   * the end of the connection.
   */
  async #fill(): Promise<boolean> {
    const buffer = this.#buffer;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
    } else if (this.#start > 0 && this.#end > buffer.length - FILL_MARGIN) {
      buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    const read = await this.#conn!.read(buffer.subarray(this.#end));
    if (read === null) return false;
    this.#end += read;
    if (this.#end === buffer.length && buffer.length < MAX_READ_BUFFER_BYTES) {
      // A read that took all the room there was: more is waiting, so read
      // more at a time. Connections that only chat keep a small buffer.
      this.#buffer = new Uint8Array(buffer.length * 4);
      this.#buffer.set(buffer.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
    }
    return true;
  }

  /** Parses frames until the closing handshake or the connection ends. */
  async #readFrames(events: TransportEvents): Promise<Outcome> {
    for (;;) {
      if (this.#paused !== undefined) await this.#paused.promise;
      if (this.#terminated) return abnormal("");
      // A write failed while reading was paused: report it now, not after
      // the reader has caught up.
      if (this.#writeFailure !== undefined) return abnormal(this.#writeFailure);
      const header = readServerFrameHeader(
        this.#buffer,
        this.#start,
        this.#end,
      );
      if (typeof header === "string") throw new ProtocolFailure(1002, header);
      const controlBytes = header === undefined || header.opcode < Opcode.Close
        ? 0
        : header.headerBytes + header.length;
      if (header === undefined || this.#end - this.#start < controlBytes) {
        if (await this.#fill()) continue;
        return this.#failed(
          "the server closed the connection without a Close frame",
        );
      }
      this.#start += header.headerBytes;
      if (header.opcode >= Opcode.Close) {
        const payload = this.#buffer.subarray(
          this.#start,
          this.#start + header.length,
        );
        this.#start += header.length;
        const outcome = await this.#onControlFrame(header.opcode, payload);
        if (outcome !== undefined) return outcome;
      } else {
        const ended = await this.#onDataFrame(events, header);
        if (ended) {
          return this.#failed(
            "the server closed the connection in the middle of a frame",
          );
        }
      }
    }
  }

  /**
   * An abnormal end: for a write that broke, if one did (reads then fail
   * too, and say less), else for `failure`.
   */
  #failed(failure: string): Outcome {
    return abnormal(this.#writeFailure ?? failure);
  }

  /** Returns `true` when the connection ended before the payload did. */
  async #onDataFrame(
    events: TransportEvents,
    { fin, opcode, length }: FrameHeader,
  ): Promise<boolean> {
    if (opcode === Opcode.Continuation) {
      if (this.#messageOpcode === 0) {
        throw new ProtocolFailure(
          1002,
          "the server sent a continuation frame outside a message",
        );
      }
    } else if (this.#messageOpcode !== 0) {
      throw new ProtocolFailure(
        1002,
        "the server started a message before finishing the previous one",
      );
    } else {
      this.#messageOpcode = opcode;
    }
    // Each frame also counts the bookkeeping a queued message costs, so
    // that a flood of tiny fragments is bounded too.
    this.#messageCost += length + MESSAGE_OVERHEAD_BYTES;
    if (
      !this.#skippingMessage &&
      this.#messageCost > this.#options.messageLimit
    ) {
      this.#skippingMessage = true;
      this.#fragments = [];
      // After our Close every message is dropped anyway.
      if (!this.#closeSent) events.onOverflow();
    }
    // Messages that arrive after our Close are dropped, as the standard
    // says; skipping them as they arrive costs no memory. (What the peer sent
    // before it saw our Close may be a long backlog held back in TCP while
    // we were paused, so they are not counted as a flood either: only
    // closeTimeout bounds them.)
    const payload = await this.#readPayload(
      length,
      this.#skippingMessage || this.#closeSent,
    );
    if (payload === null) return true;
    if (payload !== undefined && length > 0) this.#fragments.push(payload);
    if (!fin) return false;
    const messageOpcode = this.#messageOpcode;
    const skipped = this.#skippingMessage;
    const fragments = this.#fragments;
    this.#fragments = [];
    this.#messageCost = 0;
    this.#messageOpcode = 0;
    this.#skippingMessage = false;
    if (skipped || this.#closeSent) return false;
    const bytes = joinChunks(fragments);
    let message: Message = bytes;
    if (messageOpcode === Opcode.Text) {
      try {
        message = decoder.decode(bytes);
      } catch {
        throw new ProtocolFailure(
          1007,
          "the server sent a text message that is not valid UTF-8",
        );
      }
    }
    if (!events.onMessage(message) && this.#paused === undefined) {
      this.#paused = Promise.withResolvers();
    }
    return false;
  }

  /**
   * Takes `length` bytes of payload, copied out of the read buffer or, when
   * longer than it, read straight into their own array. Returns `undefined`
   * when `skip` is set, and `null` when the connection ended first.
   */
  async #readPayload(
    length: number,
    skip: boolean,
  ): Promise<Uint8Array | undefined | null> {
    if (skip) {
      let missing = length;
      for (;;) {
        const taken = Math.min(missing, this.#end - this.#start);
        this.#start += taken;
        missing -= taken;
        if (missing === 0) return undefined;
        if (!await this.#fill()) return null;
      }
    }
    if (length <= this.#buffer.length - FILL_MARGIN) {
      while (this.#end - this.#start < length) {
        if (!await this.#fill()) return null;
      }
      const payload = this.#buffer.slice(this.#start, this.#start + length);
      this.#start += length;
      return payload;
    }
    // Too long to gather in the buffer: take what it holds of the payload,
    // and read the rest straight into place.
    const payload = new Uint8Array(length);
    let filled = Math.min(length, this.#end - this.#start);
    payload.set(this.#buffer.subarray(this.#start, this.#start + filled));
    this.#start += filled;
    while (filled < length) {
      const read = await this.#conn!.read(payload.subarray(filled));
      if (read === null) return null;
      filled += read;
    }
    return payload;
  }

  /** Answers a Ping, ignores a Pong, and ends on a Close. */
  async #onControlFrame(
    opcode: number,
    payload: Uint8Array,
  ): Promise<Outcome | undefined> {
    if (opcode === Opcode.Ping) {
      // Only the latest Ping waiting for its Pong is answered (RFC 6455,
      // section 5.5.3), so a peer that pings and never reads costs nothing.
      if (!this.#closeSent) {
        this.#pendingPong = payload.slice();
        this.#writing ??= this.#writeQueued();
      }
      return undefined;
    }
    if (opcode === Opcode.Pong) return undefined;
    const { closeCode, reason } = readClosePayload(payload);
    // The closing handshake is complete once our Close follows theirs; data
    // we had queued but not started would only be discarded by the peer.
    if (!this.#closeSent) {
      this.#outgoing.clear();
      this.#sendClose(closeCode === 1005 ? undefined : closeCode, reason);
    }
    await within(this.#writing, CLOSING_GRACE_MS);
    // The closing handshake completed only if our Close left: not if writing
    // broke, or is still stuck behind a frame the server does not read.
    if (this.#writeFailure !== undefined || this.#writing !== undefined) {
      return [
        closeCode,
        reason,
        this.#writeFailure ?? "our Close frame could not be written",
        false,
      ];
    }
    await within(this.#serverHangUp(), CLOSING_GRACE_MS);
    return [closeCode, reason, "", true];
  }

  /**
   * Resolves once the server has closed TCP: after the closing handshake it
   * goes first (RFC 6455, section 7.1.1), which leaves the TIME_WAIT state on
   * its side. Anything it still sends is discarded.
   */
  async #serverHangUp(): Promise<void> {
    const conn = this.#conn;
    try {
      while (conn !== undefined && await conn.read(this.#buffer) !== null) {
        // Nothing may follow a Close frame.
      }
    } catch {
      // A reset, or our own hang-up after the grace period, ends it too.
    }
  }

  send(message: Message): true | Promise<boolean> {
    if (this.#closeSent || this.#conn === undefined) {
      return Promise.resolve(false);
    }
    this.#enqueue(
      typeof message === "string" ? Opcode.Text : Opcode.Binary,
      message,
    );
    if (this.#outgoing.bytes <= this.#options.highWaterMark) return true;
    this.#roomWaiter = Promise.withResolvers();
    return this.#roomWaiter.promise;
  }

  close(closeCode: number | undefined, reason: string): void {
    this.#sendClose(closeCode, reason);
  }

  resume(): void {
    const paused = this.#paused;
    this.#paused = undefined;
    paused?.resolve();
  }

  terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#connecting?.abort();
    this.#hangUp();
  }

  #sendClose(closeCode: number | undefined, reason: string): void {
    if (this.#closeSent || this.#conn === undefined) return;
    this.#queuePendingPong();
    this.#closeSent = true;
    this.#enqueue(Opcode.Close, closePayload(closeCode, reason));
  }

  #queuePendingPong(): void {
    if (this.#pendingPong === undefined) return;
    this.#outgoing.push(Opcode.Pong, this.#pendingPong);
    this.#pendingPong = undefined;
  }

  #enqueue(opcode: number, payload: Message): void {
    this.#outgoing.push(opcode, payload);
    this.#burstFrames++;
    this.#writing ??= this.#writeQueued();
  }

  async #writeQueued(): Promise<void> {
    const conn = this.#conn!;
    try {
      if (this.#joinWrites) await nextTurn();
      // Once hung up, what is left can no longer be written.
      while (this.#conn === conn) {
        this.#queuePendingPong();
        const bytes = this.#outgoing.take();
        if (bytes === undefined) break;
        await writeAll(conn, bytes);
        this.#outgoing.release(bytes);
        if (this.#outgoing.bytes <= this.#options.highWaterMark) {
          this.#roomWaiter?.resolve(true);
          this.#roomWaiter = undefined;
        }
      }
    } catch (error) {
      if (this.#conn === conn) {
        this.#writeFailure = describeError(error);
        // Ending the connection wakes the reader, which reports it.
        this.#hangUp();
      }
    } finally {
      this.#writing = undefined;
      // Frames that came in bursts are likely to again: then wait a turn
      // before writing, so that a burst leaves in one write. One frame at a
      // time (a request and its answer) is written at once.
      this.#joinWrites = this.#burstFrames > 1;
      this.#burstFrames = 0;
    }
  }

  /** Closes the connection; reads and writes in progress then fail. */
  #hangUp(): void {
    const conn = this.#conn;
    this.#conn = undefined;
    this.#roomWaiter?.resolve(false);
    this.#roomWaiter = undefined;
    this.resume();
    if (conn === undefined) return;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** The host and port to connect to for a `ws:` or `wss:` URL. */
function endpointOf(url: URL): { hostname: string; port: number } {
  const port = url.port === ""
    ? (url.protocol === "wss:" ? 443 : 80)
    : Number(url.port);
  // IPv6 literals come bracketed in URLs, but not in Deno.connect.
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return { hostname, port };
}

/** The code and reason of a Close frame, or a {@linkcode ProtocolFailure}. */
function readClosePayload(
  payload: Uint8Array,
): { closeCode: number; reason: string } {
  if (payload.byteLength === 0) return { closeCode: 1005, reason: "" };
  if (payload.byteLength === 1) {
    throw new ProtocolFailure(1002, "the server sent a Close frame of 1 byte");
  }
  const closeCode = (payload[0]! << 8) | payload[1]!;
  if (!isReceivableCloseCode(closeCode)) {
    throw new ProtocolFailure(
      1002,
      `the server sent close code ${closeCode}, which may not be sent`,
    );
  }
  try {
    return { closeCode, reason: decoder.decode(payload.subarray(2)) };
  } catch {
    throw new ProtocolFailure(
      1007,
      "the server sent a close reason that is not valid UTF-8",
    );
  }
}

function joinChunks(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let bytes = 0;
  for (const chunk of chunks) bytes += chunk.byteLength;
  const joined = new Uint8Array(bytes);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined;
}

/** Waits for `promise`, if any, but no longer than `ms` milliseconds. */
async function within(
  promise: Promise<void> | undefined,
  ms: number,
): Promise<void> {
  if (promise === undefined) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) {
    written += await conn.write(bytes.subarray(written));
  }
}
