/**
 * A WebSocket client written directly over `Deno.connect`, for requests and
 * behaviour no well-behaved client produces: arbitrary handshake headers
 * (`Sec-WebSocket-Protocol: a,b`, a foreign `Origin`), plain HTTP requests,
 * ignoring pings and Close frames, dropping TCP.
 *
 * @module
 */

import {
  encodeFrame,
  Opcode,
  parseClosePayload,
  RawConnection,
  readHead,
  writeAll,
} from "./_raw_server.ts";

const encoder = new TextEncoder();

/** The server's answer to a raw handshake. */
export interface RawHandshake extends Disposable {
  /** The HTTP status of the response. */
  readonly status: number;
  /** The response headers, lower-cased names. */
  readonly headers: Headers;
  /**
   * The connection, for reading the server's frames (unmasked) and closing
   * TCP; write with {@linkcode writeClientFrame}.
   */
  readonly connection: RawConnection;
  /** Writes one masked frame, as a client must. */
  writeFrame(opcode: number, payload?: Uint8Array | string): Promise<void>;
}

/**
 * Sends a WebSocket handshake request (or, with `upgrade: false`, a plain GET)
 * to `127.0.0.1:port` and reads the response head.
 */
export async function rawHandshake(
  port: number,
  options: {
    path?: string;
    /** The Host header's value, `127.0.0.1:port` by default. */
    host?: string;
    headers?: Record<string, string>;
    upgrade?: boolean;
  } = {},
): Promise<RawHandshake> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const lines = [
    `GET ${options.path ?? "/"} HTTP/1.1`,
    `Host: ${options.host ?? `127.0.0.1:${port}`}`,
    ...(options.upgrade === false ? [] : [
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
    ]),
    ...Object.entries(options.headers ?? {}).map(([name, value]) =>
      `${name}: ${value}`
    ),
    "",
    "",
  ];
  try {
    await writeAll(conn, encoder.encode(lines.join("\r\n")));
    const response = await readHead(conn);
    if (response === null) {
      throw new Error("The server closed the connection before its response");
    }
    const { head, rest } = response;
    const [statusLine = "", ...headerLines] = head.split("\r\n");
    const headers = new Headers();
    for (const line of headerLines) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const connection = new RawConnection(conn, head, rest);
    return {
      status: Number(statusLine.split(" ")[1]),
      headers,
      connection,
      writeFrame: (opcode, payload) =>
        writeClientFrame(connection, opcode, payload),
      [Symbol.dispose]: () => connection.close(),
    };
  } catch (error) {
    conn.close();
    throw error;
  }
}

/** Writes one masked frame, as a client must. */
export async function writeClientFrame(
  connection: RawConnection,
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
): Promise<void> {
  await writeAll(connection.conn, encodeClientFrame(opcode, payload));
}

/** Encodes one masked frame, for tests that batch several in one write. */
export function encodeClientFrame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
): Uint8Array {
  return encodeFrame(opcode, payload, {
    mask: crypto.getRandomValues(new Uint8Array(4)),
  });
}

/** Reads frames until one with `opcode`; `null` if the connection ends first. */
export async function readUntil(
  connection: RawConnection,
  opcode: number,
): Promise<Uint8Array | null> {
  while (true) {
    const frame = await connection.readFrame();
    if (frame === null) return null;
    if (frame.opcode === opcode) return frame.payload;
  }
}

/** Reads frames until a Close and returns its code and reason; `null` if the connection ends first. */
export async function readUntilClose(
  connection: RawConnection,
): Promise<{ code: number | undefined; reason: string } | null> {
  const payload = await readUntil(connection, Opcode.close);
  return payload && parseClosePayload(payload);
}

export { Opcode };
