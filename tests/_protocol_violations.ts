/**
 * Frames that break RFC 6455 whichever end sends them, with the close code
 * the receiving end must fail the connection with and what its error says:
 * one table for both roles of the socket transport (the client's peer sends
 * them plain, the server's peer masked).
 *
 * @module
 */

import { concat } from "./_bytes.ts";
import { closePayload, encodeFrame, Opcode } from "./_raw_server.ts";

/** Encodes one frame as the peer sends it. */
export type FrameEncoder = (
  opcode: number,
  payload?: Uint8Array | string,
  options?: { fin?: boolean },
) => Uint8Array;

/** A frame a server sends: plain. */
export function serverFrame(
  opcode: number,
  payload?: Uint8Array | string,
  options?: { fin?: boolean },
): Uint8Array {
  return encodeFrame(opcode, payload, options);
}

/** A frame a client sends: masked with a fresh key. */
export function clientFrame(
  opcode: number,
  payload?: Uint8Array | string,
  options?: { fin?: boolean },
): Uint8Array {
  return encodeFrame(opcode, payload, {
    ...options,
    mask: crypto.getRandomValues(new Uint8Array(4)),
  });
}

/** One way to break the protocol. */
export interface ProtocolViolation {
  what: string;
  /** The bytes the peer sends, framed by `encode`. */
  bytes(encode: FrameEncoder): Uint8Array;
  /** The code of the Close the receiving end answers with. */
  closeCode: number;
  /** What the receiving end's error says. */
  message: RegExp;
}

/** The violations either role must refuse, in the order RFC 6455 has them. */
export const PROTOCOL_VIOLATIONS: readonly ProtocolViolation[] = [
  {
    what: "reserved opcode 3",
    bytes: (encode) => encode(3, "x"),
    closeCode: 1002,
    message: /reserved opcode 3/,
  },
  {
    what: "reserved control opcode 0xB",
    bytes: (encode) => encode(0xb, "x"),
    closeCode: 1002,
    message: /reserved opcode 11/,
  },
  {
    what: "a reserved bit",
    bytes: (encode) => {
      const frame = encode(Opcode.text, "x");
      frame[0]! |= 0x40;
      return frame;
    },
    closeCode: 1002,
    message: /reserved bits/,
  },
  {
    what: "a continuation outside a message",
    bytes: (encode) => encode(Opcode.continuation, "x"),
    closeCode: 1002,
    message: /continuation frame outside a message/,
  },
  {
    what: "a new message inside a fragmented one",
    bytes: (encode) =>
      concat([
        encode(Opcode.text, "x", { fin: false }),
        encode(Opcode.text, "y"),
      ]),
    closeCode: 1002,
    message: /before finishing the previous one/,
  },
  {
    what: "a fragmented ping",
    bytes: (encode) => encode(Opcode.ping, "x", { fin: false }),
    closeCode: 1002,
    message: /fragmented control frame/,
  },
  {
    what: "a ping of 126 bytes",
    bytes: (encode) => encode(Opcode.ping, new Uint8Array(126)),
    closeCode: 1002,
    message: /control frame of 126 bytes/,
  },
  {
    what: "invalid UTF-8 in a text message",
    bytes: (encode) => encode(Opcode.text, new Uint8Array([0x61, 0xff])),
    closeCode: 1007,
    message: /not valid UTF-8/,
  },
  {
    what: "a Close frame of 1 byte",
    bytes: (encode) => encode(Opcode.close, new Uint8Array([3])),
    closeCode: 1002,
    message: /Close frame of 1 byte/,
  },
  ...[1004, 1005, 2999, 5000].map((code): ProtocolViolation => ({
    what: `close code ${code} on the wire`,
    bytes: (encode) => encode(Opcode.close, closePayload(code)),
    closeCode: 1002,
    message: new RegExp(`close code ${code}`),
  })),
  {
    what: "a close reason that is not UTF-8",
    bytes: (encode) =>
      encode(
        Opcode.close,
        concat([closePayload(1000), new Uint8Array([0xc3])]),
      ),
    closeCode: 1007,
    message: /close reason that is not valid UTF-8/,
  },
];
