/**
 * The client role of the socket transport: a {@linkcode SocketSession} over a
 * TCP connection from `Deno.connect` (with `Deno.startTls` on it for `wss:`),
 * opened with the client's handshake.
 *
 * @module
 */

import {
  acceptFor,
  checkHandshakeResponse,
  createHandshakeRequest,
  MAX_RESPONSE_HEAD_BYTES,
} from "./client_handshake.ts";
import { refuseExtensions } from "../handshake_options.ts";
import { DenoConnection } from "./deno_conn.ts";
import { FrameReader } from "./frame_reader.ts";
import { endpointOf, requireNetAccess } from "./net_access.ts";
import { DeflateCodec } from "./permessage_deflate_codec.ts";
import {
  acceptDeflateResponse,
  type CompressionOptions,
  createDeflateOffer,
} from "./permessage_deflate_negotiation.ts";
import { type OpenedConnection, SocketSession } from "./session.ts";
import type { TransportEvents } from "../transport.ts";

/** What a {@linkcode SocketTransport} connects to and how. */
export interface SocketTransportOptions {
  /** A `ws:` or `wss:` URL without a fragment. */
  url: URL;
  protocols: readonly string[];
  headers: Headers | undefined;
  /** Sends resolve while at most this many bytes wait to be written. */
  highWaterMark: number;
  /**
   * The most payload bytes a message may carry (see
   * {@linkcode FrameReaderOptions.messageLimit}); longer messages are
   * reported with `onOverflow` and skipped as they arrive.
   */
  messageLimit: number;
  /** permessage-deflate to offer, or `undefined` to offer no extension. */
  compression: CompressionOptions | undefined;
}

/** Speaks RFC 6455, client side, over a connection it opens itself. */
export class SocketTransport extends SocketSession {
  readonly #url: URL;

  constructor(options: SocketTransportOptions) {
    super(
      {
        role: "client",
        highWaterMark: options.highWaterMark,
        keepaliveIntervalMs: 0,
        pausable: true,
      },
      (signal) => openClient(options, signal),
    );
    this.#url = options.url;
  }

  override start(events: TransportEvents): void {
    // As Deno's WebSocket does, at construction rather than only later.
    requireNetAccess(this.#url);
    super.start(events);
  }
}

/** Connects, sends the handshake request and checks the answer. */
async function openClient(
  { url, protocols, headers, messageLimit, compression: wanted }:
    SocketTransportOptions,
  signal: AbortSignal,
): Promise<OpenedConnection | { failure: string }> {
  const compression = wanted === undefined || !zlibWithinReach()
    ? undefined
    : wanted;
  const connection = new DenoConnection(await connect(url, signal));
  // Aborted while connecting: a listener added now would never hear it.
  if (signal.aborted) {
    connection.close();
    return { failure: "" };
  }
  const hangUp = () => connection.close();
  signal.addEventListener("abort", hangUp, { once: true });
  try {
    const request = createHandshakeRequest(
      url,
      protocols,
      headers,
      compression === undefined ? "" : createDeflateOffer(compression),
    );
    const written = connection.write(request.bytes);
    // Worked out while the request travels and the server answers it.
    const expectedAccept = acceptFor(request.key);
    await written;
    const reader = new FrameReader(connection, {
      role: "client",
      messageLimit,
    });
    const answer = await reader.readHead(MAX_RESPONSE_HEAD_BYTES);
    const result = typeof answer === "string"
      ? checkHandshakeResponse(answer, expectedAccept)
      : answer === null
      ? "the server closed the connection during the handshake"
      : `the server's answer is longer than ${MAX_RESPONSE_HEAD_BYTES} bytes`;
    const agreed = typeof result === "string"
      ? undefined
      : compression === undefined
      ? refuseExtensions(result.extensions)
      : acceptDeflateResponse(result.extensions, compression);
    if (typeof result === "string" || typeof agreed === "string") {
      connection.close();
      return {
        failure: `WebSocket handshake failed: ${
          typeof result === "string" ? result : agreed
        }`,
      };
    }
    if (agreed !== undefined) {
      reader.compression = new DeflateCodec(
        agreed,
        "client",
        compression,
      );
    }
    return { connection, reader, ...result, compression: reader.compression };
  } catch (error) {
    connection.close();
    throw error;
  } finally {
    signal.removeEventListener("abort", hangUp);
  }
}

/**
 * Whether the runtime's zlib can be had, answered without taking it: the
 * codec takes it only once a server agrees to compress. In Deno, reaching
 * `process` (which holds zlib) sets up Node compatibility, megabytes of
 * memory that a client whose server declines compression would carry for
 * nothing. `process.getBuiltinModule` came with Deno 2.1.
 */
function zlibWithinReach(): boolean {
  if (zlibReachable === undefined) {
    const [major = 0, minor = 0] = Deno.version.deno.split(".").map(Number);
    zlibReachable = major > 2 || (major === 2 && minor >= 1);
  }
  return zlibReachable;
}

/** {@linkcode zlibWithinReach}'s answer, once asked. */
let zlibReachable: boolean | undefined;

async function connect(url: URL, signal: AbortSignal): Promise<Deno.Conn> {
  const { hostname, port } = endpointOf(url);
  const tcp = await Deno.connect({ hostname, port, signal });
  // Frames are written whole, and small ones are joined: waiting for more
  // (Nagle's algorithm) would only add latency.
  tcp.setNoDelay(true);
  if (url.protocol !== "wss:") return tcp;
  return await Deno.startTls(tcp, { hostname, alpnProtocols: ["http/1.1"] });
}
