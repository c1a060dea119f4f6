/**
 * Plain bytes as a connection for the frame reader, without TCP: the reads
 * end where the given chunks end, so a test decides exactly how frames are
 * split across reads.
 *
 * @module
 */

import type {
  ByteSource,
  FrameEvent,
  FrameReader,
} from "../src/socket/frame_reader.ts";
import { ProtocolError } from "../src/socket/protocol_error.ts";

/**
 * A source that yields `chunks` one read at a time, then the end. With
 * `handOver`, it also hands over what is left of each chunk, in a copy of
 * the whole chunk of its own, the way a Node socket's adapter does.
 */
export class ChunkSource implements ByteSource {
  readonly #chunks: Uint8Array[];
  #offset = 0;
  /** How many reads were asked for, the end included. */
  reads = 0;
  readChunk?: () => Promise<Uint8Array | null>;

  constructor(chunks: readonly Uint8Array[], handOver = false) {
    this.#chunks = [...chunks];
    if (handOver) {
      this.readChunk = () => {
        this.reads++;
        const chunk = this.#chunks.shift();
        const offset = this.#offset;
        this.#offset = 0;
        // The rest of a chunk that reads took from stays a view of it, as
        // the Node adapter hands it over: the reader must count its offset.
        return Promise.resolve(chunk?.slice().subarray(offset) ?? null);
      };
    }
  }

  read(into: Uint8Array): Promise<number | null> {
    this.reads++;
    const chunk = this.#chunks[0];
    if (chunk === undefined) return Promise.resolve(null);
    const taken = Math.min(into.byteLength, chunk.byteLength - this.#offset);
    into.set(chunk.subarray(this.#offset, this.#offset + taken));
    this.#offset += taken;
    if (this.#offset === chunk.byteLength) {
      this.#chunks.shift();
      this.#offset = 0;
    }
    return Promise.resolve(taken);
  }
}

/** `bytes` cut at `cuts` (sorted offsets), as reads would deliver them. */
export function splitAt(
  bytes: Uint8Array,
  cuts: readonly number[],
): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.byteLength]) {
    if (cut > start) parts.push(bytes.subarray(start, cut));
    start = Math.max(start, cut);
  }
  return parts;
}

/** A {@linkcode ProtocolError} the reader threw, as an event. */
export type Failure = { type: "error"; closeCode: number; message: string };

/** Every event `reader` reports, up to the end, a Close or an error. */
export async function readEvents(
  reader: FrameReader,
): Promise<(FrameEvent | Failure)[]> {
  const events: (FrameEvent | Failure)[] = [];
  for (;;) {
    let event: FrameEvent;
    try {
      event = await reader.next();
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      const { closeCode, message } = error;
      events.push({ type: "error", closeCode, message });
      return events;
    }
    events.push(event);
    if (event.type === "end" || event.type === "close") return events;
  }
}
