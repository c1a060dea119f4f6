/**
 * The bytes a hub hands its engine for one message: whether it is text, which
 * hub published it and which of that hub's subscribers to leave out, then the
 * message itself.
 *
 * Layout: 1 byte kind (0 text, 1 binary), 8 bytes publishing hub id,
 * 4 bytes (big-endian) id of the subscriber to leave out (0: none), body.
 *
 * @module
 */

const TEXT = 0;
const BINARY = 1;
const HEADER_BYTES = 13;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A message read back from an engine's payload. */
export interface Envelope {
  message: string | Uint8Array;
  /** The publishing hub's 8-byte id. */
  origin: Uint8Array;
  /** The publishing hub's subscriber to leave out, 0 for none. */
  except: number;
}

/** Makes a random 8-byte hub id. */
export function createHubId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(8));
}

/** Packs a message for an engine. */
export function packEnvelope(
  message: string | Uint8Array,
  origin: Uint8Array,
  except: number,
): Uint8Array {
  const body = typeof message === "string" ? encoder.encode(message) : message;
  const bytes = new Uint8Array(HEADER_BYTES + body.byteLength);
  bytes[0] = typeof message === "string" ? TEXT : BINARY;
  bytes.set(origin, 1);
  new DataView(bytes.buffer).setUint32(9, except);
  bytes.set(body, HEADER_BYTES);
  return bytes;
}

/** The length of the message a packed envelope carries, in bytes. */
export function envelopeBodyLength(envelope: Uint8Array): number {
  return envelope.byteLength - HEADER_BYTES;
}

/** Reads an engine's payload, or `undefined` when it is not an envelope. */
export function unpackEnvelope(bytes: Uint8Array): Envelope | undefined {
  if (bytes.byteLength < HEADER_BYTES) return undefined;
  const kind = bytes[0];
  if (kind !== TEXT && kind !== BINARY) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const body = bytes.subarray(HEADER_BYTES);
  return {
    // A copy, as a plain Uint8Array whatever view the engine handed over.
    message: kind === TEXT ? decoder.decode(body) : new Uint8Array(body),
    origin: bytes.subarray(1, 9),
    except: view.getUint32(9),
  };
}

/** Whether two hub ids are the same. */
export function sameHubId(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 8; i++) if (a[i] !== b[i]) return false;
  return true;
}
