/**
 * The server role of the socket transport: a {@linkcode SocketSession} over a
 * connection whose upgrade request was already read and accepted, which
 * writes the 101 answer and then reads masked frames and writes plain ones.
 *
 * @module
 */

import type { ByteConnection } from "./byte_connection.ts";
import { acceptFor } from "./client_handshake.ts";
import { FrameReader } from "./frame_reader.ts";
import {
  DeflateCodec,
  type DeflateSettings,
} from "./permessage_deflate_codec.ts";
import type { DeflateAgreement } from "./permessage_deflate_negotiation.ts";
import { type SessionSettings, SocketSession } from "./session.ts";

/** What the server side of a connection runs with. */
export interface ServerTransportOptions {
  /** The request's `Sec-WebSocket-Key`, already checked. */
  key: string;
  /** The selected subprotocol, if any. */
  protocol: string | undefined;
  /** Bytes that arrived after the request head, read before the connection. */
  head: Uint8Array;
  /** Sends resolve while at most this many bytes wait to be written. */
  highWaterMark: number;
  /** The most payload bytes a message may carry. */
  messageLimit: number;
  /** Seconds without a word from the client before it is pinged, twice over. */
  idleTimeout: number;
  /**
   * Whether `connection` stops reading from TCP while it is not read; see
   * {@linkcode SessionSettings.pausable}.
   */
  pausable: boolean;
  /** permessage-deflate as agreed with the client's offer, if it was. */
  compression?: DeflateAgreement & DeflateSettings;
}

/**
 * A transport that answers the upgrade on `connection` and speaks RFC 6455
 * as the server.
 */
export function createServerTransport(
  connection: ByteConnection,
  options: ServerTransportOptions,
): SocketSession {
  return new SocketSession(
    sessionSettings(
      options.highWaterMark,
      options.idleTimeout * 1000 / 2,
      options.pausable,
    ),
    async (signal) => {
      const hangUp = () => connection.close();
      signal.addEventListener("abort", hangUp, { once: true });
      try {
        await connection.write(
          createHandshakeResponse(
            options.key,
            options.protocol,
            options.compression?.response,
          ),
        );
      } finally {
        signal.removeEventListener("abort", hangUp);
      }
      const reader = new FrameReader(
        connection,
        { role: "server", messageLimit: options.messageLimit },
        options.head,
      );
      const agreed = options.compression;
      if (agreed !== undefined) {
        reader.compression = new DeflateCodec(
          agreed.parameters,
          "server",
          agreed,
        );
      }
      return {
        connection,
        reader,
        protocol: options.protocol ?? "",
        extensions: agreed?.response ?? "",
        compression: reader.compression,
      };
    },
  );
}

/**
 * The last settings made: a server gives its connections the same options,
 * so they share one object instead of holding one each.
 */
let lastSettings: Readonly<SessionSettings> | undefined;

function sessionSettings(
  highWaterMark: number,
  keepaliveIntervalMs: number,
  pausable: boolean,
): Readonly<SessionSettings> {
  if (
    lastSettings?.highWaterMark !== highWaterMark ||
    lastSettings.keepaliveIntervalMs !== keepaliveIntervalMs ||
    lastSettings.pausable !== pausable
  ) {
    lastSettings = Object.freeze({
      role: "server",
      highWaterMark,
      keepaliveIntervalMs,
      pausable,
    });
  }
  return lastSettings;
}

/**
 * The 101 answer to a request with `key`, selecting `protocol` and accepting
 * `extensions`.
 */
function createHandshakeResponse(
  key: string,
  protocol: string | undefined,
  extensions: string | undefined,
): Uint8Array {
  const lines = [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${acceptFor(key)}`,
  ];
  if (protocol !== undefined) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  if (extensions !== undefined) {
    lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
  }
  return new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n`);
}
