/**
 * A WebSocket server written directly over `Deno.listen`, for peers that must
 * misbehave in ways `Deno.upgradeWebSocket` never would: stop reading, drop
 * TCP, delay or skip the closing handshake, send malformed frames.
 *
 * @module
 */

import { concat } from "./_bytes.ts";
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** RFC 6455 opcodes. */
export const Opcode = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** One frame as read off the wire, unmasked. */
export interface Frame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

/** One accepted connection, after the handshake. */
export class RawConnection {
  readonly conn: Deno.TcpConn;
  /** The client's handshake request head. */
  readonly request: string;
  #buffer: Uint8Array = new Uint8Array(0);
  #closed = false;

  constructor(conn: Deno.TcpConn, request: string, rest: Uint8Array) {
    this.conn = conn;
    this.request = request;
    this.#buffer = rest;
  }

  /** A request header's value, or `undefined`. */
  header(name: string): string | undefined {
    const match = new RegExp(`^${name}:[ \\t]*(.*?)[ \\t]*$`, "im").exec(
      this.request,
    );
    return match?.[1];
  }

  /** Reads one frame; `null` at end of stream or after a reset. */
  async readFrame(): Promise<Frame | null> {
    const head = await this.#readExactly(2);
    if (head === null) return null;
    const fin = (head[0]! & 0x80) !== 0;
    const opcode = head[0]! & 0x0f;
    const masked = (head[1]! & 0x80) !== 0;
    let length = head[1]! & 0x7f;
    if (length === 126) {
      const extended = await this.#readExactly(2);
      if (extended === null) return null;
      length = new DataView(extended.buffer, extended.byteOffset).getUint16(0);
    } else if (length === 127) {
      const extended = await this.#readExactly(8);
      if (extended === null) return null;
      length = Number(
        new DataView(extended.buffer, extended.byteOffset).getBigUint64(0),
      );
    }
    const mask = masked ? await this.#readExactly(4) : undefined;
    if (mask === null) return null;
    const payload = await this.#readExactly(length);
    if (payload === null) return null;
    if (mask !== undefined) {
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
    }
    return { fin, opcode, payload };
  }

  /** Reads frames until a data message is complete, answering pings. */
  async readMessage(): Promise<Frame | null> {
    const parts: Uint8Array[] = [];
    let opcode = 0;
    while (true) {
      const frame = await this.readFrame();
      if (frame === null) return null;
      if (frame.opcode === Opcode.ping) {
        await this.writeFrame(Opcode.pong, frame.payload);
        continue;
      }
      if (frame.opcode === Opcode.close) return frame;
      if (frame.opcode !== Opcode.continuation) opcode = frame.opcode;
      parts.push(frame.payload);
      if (frame.fin) {
        return { fin: true, opcode, payload: concat(parts) };
      }
    }
  }

  /** Writes one unmasked frame, as a server does. */
  async writeFrame(
    opcode: number,
    payload: Uint8Array | string = new Uint8Array(0),
    fin = true,
  ): Promise<void> {
    await writeAll(this.conn, encodeFrame(opcode, payload, { fin }));
  }

  /** Sends a Close frame: empty without a code. */
  sendClose(code?: number, reason = ""): Promise<void> {
    return this.writeFrame(Opcode.close, closePayload(code, reason));
  }

  /** Closes TCP. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.conn.close();
  }

  /** Reads and discards everything until the client closes TCP. */
  async drainUntilEnd(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (await this.conn.read(buffer) !== null) { /* discard */ }
    } catch {
      // A reset ends it too.
    }
  }

  async #readExactly(length: number): Promise<Uint8Array | null> {
    while (this.#buffer.byteLength < length) {
      const chunk = new Uint8Array(Math.max(64 * 1024, length));
      let read: number | null;
      try {
        read = await this.conn.read(chunk);
      } catch {
        return null;
      }
      if (read === null) return null;
      this.#buffer = concat([this.#buffer, chunk.subarray(0, read)]);
    }
    const out = this.#buffer.slice(0, length);
    this.#buffer = this.#buffer.subarray(length);
    return out;
  }
}

/** One frame: unmasked as a server sends it, or masked with `mask`. */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  { fin = true, mask }: { fin?: boolean; mask?: Uint8Array } = {},
): Uint8Array {
  const body = typeof payload === "string" ? encoder.encode(payload) : payload;
  const length = body.byteLength;
  const headLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const maskLength = mask === undefined ? 0 : 4;
  const frame = new Uint8Array(headLength + maskLength + length);
  frame[0] = (fin ? 0x80 : 0) | opcode;
  const maskBit = mask === undefined ? 0 : 0x80;
  if (length < 126) {
    frame[1] = maskBit | length;
  } else if (length < 65536) {
    frame[1] = maskBit | 126;
    new DataView(frame.buffer).setUint16(2, length);
  } else {
    frame[1] = maskBit | 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(length));
  }
  const start = headLength + maskLength;
  if (mask === undefined) {
    frame.set(body, start);
  } else {
    frame.set(mask, headLength);
    for (let i = 0; i < length; i++) {
      frame[start + i] = body[i]! ^ mask[i % 4]!;
    }
  }
  return frame;
}

/** The body of a Close frame. */
export function closePayload(code?: number, reason = ""): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const text = encoder.encode(reason);
  const payload = new Uint8Array(2 + text.byteLength);
  new DataView(payload.buffer).setUint16(0, code);
  payload.set(text, 2);
  return payload;
}

/** Reads the code and reason from a Close frame's body. */
export function parseClosePayload(
  payload: Uint8Array,
): { code: number | undefined; reason: string } {
  if (payload.byteLength < 2) return { code: undefined, reason: "" };
  return {
    code: new DataView(payload.buffer, payload.byteOffset).getUint16(0),
    reason: decoder.decode(payload.subarray(2)),
  };
}

/** How the raw server answers the opening handshake. */
export interface RawServerOptions {
  /** Extra response header lines, such as `Sec-WebSocket-Protocol: x`. */
  responseHeaders?: string[];
  /** Replaces the whole response head (the request head is passed in). */
  respond?: (request: string) => string;
  /**
   * Writes the response head in place of one plain write: to cut it across
   * TCP segments, or to send frames in the same write as its end.
   */
  writeResponse?: (conn: Deno.TcpConn, response: Uint8Array) => Promise<void>;
}

/** A running raw server. */
export interface RawServer extends AsyncDisposable {
  /** `ws://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** How many connections were accepted. */
  readonly accepted: number;
  /** Stops listening and waits for every handler to finish; idempotent. */
  close(): Promise<void>;
}

/**
 * A peer that reads one message, sends a Close and stops reading, then drops
 * TCP after 100 ms: a large write of the client's is still incomplete when
 * the Close arrives, whatever the timing, as the peer never takes it.
 */
export function closeDuringWrite(
  code: number,
  reason = "",
): (connection: RawConnection) => Promise<void> {
  return async (connection) => {
    await connection.readMessage();
    await connection.sendClose(code, reason);
    await new Promise((resolve) => setTimeout(resolve, 100));
  };
}

/** How long closing a raw server waits for its handlers to finish. */
const HANDLER_GRACE_MS = 10_000;

/**
 * Starts a raw server on an ephemeral loopback port; `handler` runs for each
 * connection after the handshake and owns it (the server closes TCP after the
 * handler returns). Closing the server waits for its handlers; one still
 * running after {@linkcode HANDLER_GRACE_MS} has its connection dropped, and
 * `close()` rejects.
 */
export function startRawServer(
  handler: (connection: RawConnection) => Promise<void>,
  options: RawServerOptions = {},
): RawServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const handlers = new Set<Promise<void>>();
  const conns = new Set<Deno.TcpConn>();
  let accepted = 0;
  const serve = async (conn: Deno.TcpConn) => {
    const head = await readHead(conn);
    if (head === null) {
      conn.close();
      return;
    }
    const response = options.respond?.(head.head) ??
      await acceptResponse(head.head, options.responseHeaders ?? []);
    const bytes = encoder.encode(response);
    await (options.writeResponse?.(conn, bytes) ?? writeAll(conn, bytes));
    const connection = new RawConnection(conn, head.head, head.rest);
    try {
      await handler(connection);
    } finally {
      connection.close();
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      accepted++;
      conns.add(conn);
      const running = serve(conn).catch(() => {});
      handlers.add(running);
      running.finally(() => {
        handlers.delete(running);
        conns.delete(conn);
      });
    }
  })();
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      listener.close();
      await accepting.catch(() => {});
      const finished = Promise.all(handlers).then(() => true);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const inTime = await Promise.race([
        finished,
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), HANDLER_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      if (inTime) return;
      // A handler waiting for a client that a failed test left open would
      // hold the test forever: drop its connection and fail instead.
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      await finished;
      throw new Error(
        `a raw server handler was still running ${HANDLER_GRACE_MS} ms after close(), so its connection was dropped`,
      );
    })();
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    get accepted() {
      return accepted;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function acceptResponse(
  request: string,
  extraHeaders: string[],
): Promise<string> {
  const key = /^sec-websocket-key:\s*(.*?)\s*$/im.exec(request)?.[1] ?? "";
  const digest = await crypto.subtle.digest(
    "SHA-1",
    encoder.encode(key + GUID),
  );
  const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
  return [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${accept}`,
    ...extraHeaders,
    "",
    "",
  ].join("\r\n");
}

/**
 * Reads an HTTP head (request or response) up to its blank line; `null` if
 * the connection ends first.
 */
export async function readHead(
  conn: Deno.Conn,
): Promise<{ head: string; rest: Uint8Array } | null> {
  let data: Uint8Array = new Uint8Array(0);
  const chunk = new Uint8Array(8192);
  while (true) {
    const end = findHeadEnd(data);
    if (end >= 0) {
      return {
        head: decoder.decode(data.subarray(0, end)),
        rest: data.slice(end + 4),
      };
    }
    let read: number | null;
    try {
      read = await conn.read(chunk);
    } catch {
      return null;
    }
    if (read === null) return null;
    data = concat([data, chunk.subarray(0, read)]);
  }
}

function findHeadEnd(data: Uint8Array): number {
  for (let i = 0; i + 3 < data.length; i++) {
    if (
      data[i] === 13 && data[i + 1] === 10 && data[i + 2] === 13 &&
      data[i + 3] === 10
    ) return i;
  }
  return -1;
}

/** Writes all of `data`. */
export async function writeAll(
  conn: Deno.Conn,
  data: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < data.byteLength) {
    written += await conn.write(data.subarray(written));
  }
}
