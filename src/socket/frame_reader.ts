/**
 * Bytes in, messages and control frames out: RFC 6455 framing for either
 * role, over a {@linkcode ByteSource} it reads only when asked for the next
 * frame, so that a receiver without room leaves the bytes in TCP. It owns no
 * socket and writes nothing; a peer that breaks the protocol makes
 * {@linkcode FrameReader.next} throw a {@linkcode ProtocolError}.
 *
 * @module
 */

import type { Role } from "../close_code.ts";
import { isReceivableCloseCode } from "../close_code.ts";
import type { Message } from "../message.ts";
import type { ByteConnection } from "./byte_connection.ts";
import {
  applyMask,
  type FrameHeader,
  MAX_CONTROL_PAYLOAD,
  MAX_HEADER_BYTES,
  Opcode,
  parseFrameHeader,
  peerName,
} from "./frame.ts";
import { FragmentBuffer } from "./fragment_buffer.ts";
import { type DeflateCodec, InflateError } from "./permessage_deflate_codec.ts";
import { ProtocolError } from "./protocol_error.ts";

/** What the reader reads from: the reading half of a connection. */
export type ByteSource = Pick<ByteConnection, "read" | "readChunk">;

/** What {@linkcode FrameReader.next} found. */
export type FrameEvent =
  | { type: "message"; message: Message }
  | { type: "ping"; payload: Uint8Array }
  | { type: "pong"; payload: Uint8Array }
  | { type: "close"; closeCode: number; reason: string }
  /** A message longer than the limit began; it is skipped as it arrives. */
  | { type: "overflow" }
  /** The connection ended without a Close frame; `failure` says where. */
  | { type: "end"; failure: string };

/** Options for a {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /** Our role: a server reads masked frames, a client plain ones. */
  role: Role;
  /**
   * The most payload bytes one message may carry; a message also may not
   * have more than this divided by {@linkcode FRAME_OVERHEAD_BYTES} frames,
   * so that a flood of tiny fragments is bounded too. A longer message is
   * reported as `overflow` and skipped.
   */
  messageLimit: number;
}

/**
 * What each frame of a fragmented message counts against the message limit
 * when counting frames: about what holding a fragment costs.
 */
export const FRAME_OVERHEAD_BYTES = 64;

/** The read buffer's first size: enough for a handshake and chat. */
const MIN_READ_BUFFER_BYTES = 4 * 1024;
/** The read buffer grows fourfold, up to this, while reads fill it. */
const MAX_READ_BUFFER_BYTES = 256 * 1024;
/**
 * The read buffer is compacted before a read once less than this is free
 * behind its data; a frame header or a control frame always fits in it, and
 * a payload longer than the buffer less this is read into its own array.
 */
const FILL_MARGIN = 2 * (MAX_HEADER_BYTES + MAX_CONTROL_PAYLOAD);

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Reads frames from a {@linkcode ByteSource}; see the module doc. */
export class FrameReader {
  readonly #source: ByteSource;
  readonly #role: Role;
  readonly #messageLimit: number;
  // Bytes [#start, #end) of #buffer are read but not yet parsed.
  #buffer: Uint8Array = new Uint8Array(MIN_READ_BUFFER_BYTES);
  #start = 0;
  #end = 0;
  /**
   * Our own read buffer, which `#buffer` is unless it is a chunk the source
   * handed over (see {@linkcode ByteConnection.readChunk}). Such a chunk is
   * parsed where it is, never read into, and may become a payload's own
   * array; what is left of it when more must be read moves here.
   */
  #own: Uint8Array = this.#buffer;
  /** The opcode of the message being received, or 0 between messages. */
  #messageOpcode = 0;
  /**
   * The binary fragments of the message being received. This and
   * `#textParts` are made by the first frame of a message in several, not
   * kept between messages: an idle connection holds neither.
   */
  #fragments: FragmentBuffer | undefined;
  /** The text decoded so far of a fragmented text message. */
  #textParts: string[] | undefined;
  /** Decodes a fragmented text message frame by frame, so bad UTF-8 fails at once. */
  #textDecoder: TextDecoder | undefined;
  #messageBytes = 0;
  #messageFrames = 0;
  /** The message being received is too long: its frames are skipped. */
  #skippingMessage = false;
  /** The frame whose overflow was reported, to skip at the next call. */
  #overflowingFrame: { length: number; fin: boolean } | undefined;
  /**
   * Set once our Close is sent: messages are skipped as they arrive, as the
   * standard drops them, which costs no memory.
   */
  discarding = false;
  /**
   * Set whenever bytes arrive, and cleared by whoever watches that the peer
   * is alive (the session's keepalive): a peer in the middle of a long
   * message is heard from, though no frame has ended.
   */
  heard = false;
  /**
   * Set once permessage-deflate was agreed: messages with RSV1 are inflated
   * with it, and count their inflated bytes against the message limit.
   */
  compression: DeflateCodec | undefined;
  /** The message being received is compressed. */
  #messageCompressed = false;
  /** The bytes the message being received has inflated to so far. */
  #inflatedBytes = 0;

  /**
   * @param source Where frames come from.
   * @param options Role and limit.
   * @param head Bytes already read from the connection, read first.
   */
  constructor(
    source: ByteSource,
    options: FrameReaderOptions,
    head?: Uint8Array,
  ) {
    this.#source = source;
    this.#role = options.role;
    this.#messageLimit = options.messageLimit;
    if (head !== undefined && head.byteLength > 0) {
      if (head.byteLength > this.#buffer.length) {
        this.#buffer = this.#own = new Uint8Array(head.byteLength);
      }
      this.#buffer.set(head);
      this.#end = head.byteLength;
    }
  }

  /**
   * Reads an HTTP head (up to the blank line) of at most `maxBytes`; what
   * follows stays to be read as frames. Returns the head without its blank
   * line, `null` when the connection ended first, `undefined` when the head
   * is longer.
   */
  async readHead(maxBytes: number): Promise<string | null | undefined> {
    let headEnd = -1;
    while (headEnd < 0) {
      if (this.#end - this.#start >= maxBytes) return undefined;
      if (!await this.#fill()) return null;
      headEnd = findHeadEnd(this.#buffer, this.#start, this.#end);
    }
    const head = new TextDecoder().decode(
      this.#buffer.subarray(this.#start, headEnd - 4),
    );
    this.#start = headEnd;
    return head;
  }

  /**
   * Reads up to the next message, control frame or overflow, or the end of
   * the connection. Throws a {@linkcode ProtocolError} for a peer that
   * breaks the protocol, and the connection's error when reading fails.
   * What is already buffered is parsed without a promise: frames that came
   * in one read cost no turn of the event loop each.
   */
  next(): FrameEvent | Promise<FrameEvent> {
    if (this.#overflowingFrame !== undefined) return this.#readNext();
    for (;;) {
      const header = this.#parseHeader();
      // Not even a frame header yet, as on every idle connection: wait for
      // it in a promise reaction rather than a suspended async function.
      if (header === undefined) {
        return this.#read().then(this.#nextAfterRead);
      }
      // Inflating takes a promise: compressed messages take the long way.
      if (
        this.#end - this.#start < header.headerBytes + header.length ||
        header.compressed ||
        (header.opcode === Opcode.Continuation && this.#messageCompressed)
      ) {
        return this.#readNext();
      }
      this.#start += header.headerBytes;
      if (header.opcode >= Opcode.Close) return this.#takeControlFrame(header);
      const action = this.#beginDataFrame(header);
      if (action === "overflow") {
        this.#start += header.length;
        if (header.fin) this.#endMessage();
        return { type: "overflow" };
      }
      let payload: Uint8Array | undefined;
      if (action === "skip") this.#start += header.length;
      else payload = this.#takeDataPayload(header.length, header.maskKey);
      const event = this.#endDataFrame(payload, header.fin);
      if (event !== undefined) return event;
    }
  }

  /** {@linkcode next} when bytes must be read first. */
  async #readNext(): Promise<FrameEvent> {
    const overflowing = this.#overflowingFrame;
    if (overflowing !== undefined) {
      this.#overflowingFrame = undefined;
      const ended = await this.#readPayload(overflowing.length, true, 0);
      if (ended === null) return this.#endedInFrame();
      if (overflowing.fin) this.#endMessage();
    }
    for (;;) {
      const header = this.#parseHeader();
      const controlBytes = header === undefined || header.opcode < Opcode.Close
        ? 0
        : header.headerBytes + header.length;
      if (header === undefined || this.#end - this.#start < controlBytes) {
        if (await this.#fill()) continue;
        return this.#endedBetweenFrames();
      }
      this.#start += header.headerBytes;
      if (header.opcode >= Opcode.Close) return this.#takeControlFrame(header);
      const action = this.#beginDataFrame(header);
      if (action === "overflow") {
        // Reported before the payload is skipped, which may never end.
        this.#overflowingFrame = { length: header.length, fin: header.fin };
        return { type: "overflow" };
      }
      const payload = await this.#readPayload(
        header.length,
        action === "skip",
        header.maskKey,
      );
      if (payload === null) return this.#endedInFrame();
      let data = payload;
      if (payload !== undefined && this.#messageCompressed) {
        data = await this.#inflate(payload, header.fin);
        if (data === undefined) {
          // It inflated past the limit: the rest of it is skipped.
          this.#skipMessage();
          if (header.fin) this.#endMessage();
          if (!this.discarding) return { type: "overflow" };
          continue;
        }
      }
      const event = this.#endDataFrame(data, header.fin);
      if (event !== undefined) return event;
    }
  }

  /** Reads the rest of the current read buffer's data, for a hang-up. */
  async drain(): Promise<void> {
    while (await this.#source.read(this.#own) !== null) {
      // Nothing may follow a Close frame.
    }
  }

  /** The header of the next frame, `undefined` while it has not all arrived. */
  #parseHeader(): FrameHeader | undefined {
    return parseFrameHeader(
      this.#buffer,
      this.#start,
      this.#end,
      this.#role,
      this.compression !== undefined,
    );
  }

  /** The event of a control frame whose payload is in the buffer. */
  #takeControlFrame(header: FrameHeader): FrameEvent {
    const payload = this.#takeBuffered(header.length, header.maskKey);
    if (header.opcode === Opcode.Ping) return { type: "ping", payload };
    if (header.opcode === Opcode.Pong) return { type: "pong", payload };
    return { type: "close", ...this.#parseClosePayload(payload) };
  }

  /** `length` bytes of payload copied out of the buffer, unmasked. */
  #takeBuffered(length: number, maskKey: number): Uint8Array {
    const payload = this.#buffer.slice(this.#start, this.#start + length);
    this.#start += length;
    if (maskKey !== 0) applyMask(payload, 0, length, maskKey);
    return payload;
  }

  /**
   * A data frame's `length` bytes of payload from the buffer, unmasked. Text
   * that needs no inflating is decoded before the buffer is read into again,
   * so it is unmasked in place and viewed rather than copied: the copy would
   * cost more than decoding it. A binary message gets an array of its own,
   * all of it, as from every transport: a handed-over chunk itself when the
   * payload is the rest of it.
   */
  #takeDataPayload(length: number, maskKey: number): Uint8Array {
    const buffer = this.#buffer;
    if (this.#messageOpcode !== Opcode.Text || this.#messageCompressed) {
      if (
        buffer === this.#own || this.#messageCompressed ||
        this.#start + length < this.#end
      ) {
        return this.#takeBuffered(length, maskKey);
      }
      const payload = this.#claimChunk(length, length);
      if (maskKey !== 0) applyMask(payload, 0, length, maskKey);
      return payload;
    }
    const start = this.#start;
    this.#start += length;
    if (maskKey !== 0) applyMask(buffer, start, length, maskKey);
    return buffer.subarray(start, start + length);
  }

  /**
   * Checks a data frame's place in its message and counts it: whether its
   * payload is to be kept, skipped, or starts an overflow.
   */
  #beginDataFrame(header: FrameHeader): "keep" | "skip" | "overflow" {
    const { opcode, length } = header;
    if (opcode === Opcode.Continuation) {
      if (this.#messageOpcode === 0) {
        throw new ProtocolError(
          1002,
          `${peerName(this.#role)} sent a continuation frame outside a message`,
        );
      }
    } else if (this.#messageOpcode !== 0) {
      throw new ProtocolError(
        1002,
        `${
          peerName(this.#role)
        } started a message before finishing the previous one`,
      );
    } else {
      this.#messageOpcode = opcode;
      this.#messageCompressed = header.compressed;
    }
    this.#messageBytes += length;
    this.#messageFrames++;
    if (
      !this.#skippingMessage &&
      (this.#messageBytes > this.#messageLimit ||
        (this.#messageFrames - 1) * FRAME_OVERHEAD_BYTES > this.#messageLimit)
    ) {
      this.#skipMessage();
      if (!this.discarding) return "overflow";
    }
    return this.#skippingMessage || this.discarding ? "skip" : "keep";
  }

  /**
   * Takes a data frame's payload (`undefined` when skipped); the message
   * once its final frame is in, unless it was skipped.
   */
  #endDataFrame(
    payload: Uint8Array | undefined,
    fin: boolean,
  ): FrameEvent | undefined {
    if (fin && this.#messageFrames === 1) {
      // A message in one frame, as nearly all are: no list of fragments.
      const message = payload === undefined
        ? undefined
        : this.#messageOpcode === Opcode.Text
        ? this.#decodeText(payload)
        : payload;
      this.#endMessage();
      return message === undefined ? undefined : { type: "message", message };
    }
    if (payload !== undefined) this.#takeFragment(payload, fin);
    if (!fin) return undefined;
    const message = payload === undefined ? undefined : this.#assemble();
    this.#endMessage();
    return message === undefined ? undefined : { type: "message", message };
  }

  #skipMessage(): void {
    this.#skippingMessage = true;
    this.#fragments = undefined;
    this.#textParts = undefined;
    this.#textDecoder = undefined;
  }

  /**
   * Inflates a frame of a compressed message, within what the message limit
   * leaves; `undefined` once the message inflates past it.
   */
  async #inflate(
    payload: Uint8Array,
    fin: boolean,
  ): Promise<Uint8Array | undefined> {
    // Nothing to inflate, and no tail to add: zlib is not asked, as a flood
    // of empty fragments would otherwise cost a zlib flush each.
    if (payload.byteLength === 0 && !fin) return payload;
    let inflated;
    try {
      inflated = await this.compression!.inflate(
        payload,
        fin,
        this.#messageLimit - this.#inflatedBytes,
      );
    } catch (error) {
      if (!(error instanceof InflateError)) throw error;
      throw new ProtocolError(
        1007,
        `${
          peerName(this.#role)
        } sent a compressed message that does not inflate: ${error.message}`,
      );
    }
    if (inflated === "overflow") return undefined;
    this.#inflatedBytes += inflated.byteLength;
    return inflated;
  }

  /** Keeps a data frame's payload; text is checked as each frame arrives. */
  #takeFragment(payload: Uint8Array, fin: boolean): void {
    if (this.#messageOpcode !== Opcode.Text) {
      (this.#fragments ??= new FragmentBuffer()).push(payload);
      return;
    }
    this.#textDecoder ??= new TextDecoder("utf-8", {
      fatal: true,
      ignoreBOM: true,
    });
    try {
      (this.#textParts ??= []).push(
        this.#textDecoder.decode(payload, { stream: !fin }),
      );
    } catch {
      throw this.#invalidText();
    }
  }

  #assemble(): Message {
    if (this.#messageOpcode !== Opcode.Text) {
      return this.#fragments?.join() ?? new Uint8Array(0);
    }
    return this.#textParts?.join("") ?? "";
  }

  #decodeText(bytes: Uint8Array): string {
    try {
      return decoder.decode(bytes);
    } catch {
      throw this.#invalidText();
    }
  }

  /**
   * {@linkcode next} once a read for it is done; made once per reader. The
   * read's result is taken here rather than by {@linkcode #fill}, which
   * would cost each message a promise more.
   */
  readonly #nextAfterRead = (
    read: number | null,
  ): FrameEvent | Promise<FrameEvent> =>
    this.#filled(read) ? this.next() : this.#endedBetweenFrames();

  #endedBetweenFrames(): FrameEvent {
    return {
      type: "end",
      failure: `${
        peerName(this.#role)
      } closed the connection without a Close frame`,
    };
  }

  #endedInFrame(): FrameEvent {
    return {
      type: "end",
      failure: `${
        peerName(this.#role)
      } closed the connection in the middle of a frame`,
    };
  }

  #invalidText(): ProtocolError {
    return new ProtocolError(
      1007,
      `${peerName(this.#role)} sent a text message that is not valid UTF-8`,
    );
  }

  #endMessage(): void {
    this.#fragments = undefined;
    this.#textParts = undefined;
    this.#textDecoder = undefined;
    this.#messageBytes = 0;
    this.#messageFrames = 0;
    this.#messageOpcode = 0;
    this.#skippingMessage = false;
    this.#messageCompressed = false;
    this.#inflatedBytes = 0;
  }

  /** The code and reason of a Close frame. */
  #parseClosePayload(
    payload: Uint8Array,
  ): { closeCode: number; reason: string } {
    if (payload.byteLength === 0) return { closeCode: 1005, reason: "" };
    const peer = peerName(this.#role);
    if (payload.byteLength === 1) {
      throw new ProtocolError(1002, `${peer} sent a Close frame of 1 byte`);
    }
    const closeCode = (payload[0]! << 8) | payload[1]!;
    if (!isReceivableCloseCode(closeCode)) {
      throw new ProtocolError(
        1002,
        `${peer} sent close code ${closeCode}, which may not be sent`,
      );
    }
    try {
      return { closeCode, reason: decoder.decode(payload.subarray(2)) };
    } catch {
      throw new ProtocolError(
        1007,
        `${peer} sent a close reason that is not valid UTF-8`,
      );
    }
  }

  /**
   * Reads more bytes into the buffer, making room first. Resolves to `false`
   * at the end of the connection. Not an async function: a reader waiting on
   * an idle connection holds a promise reaction, not a suspended function.
   */
  #fill(): Promise<boolean> {
    return this.#read().then(this.#filled);
  }

  /**
   * Reads more bytes into the buffer: the number read, or `null` at the end
   * of the connection. Once everything read is parsed, a source that hands
   * over its chunks is read a chunk at a time, which becomes the buffer.
   */
  #read(): Promise<number | null> {
    const source = this.#source;
    if (source.readChunk !== undefined && this.#start === this.#end) {
      return source.readChunk().then(this.#adopt);
    }
    return source.read(this.#room());
  }

  /** The rest of {@linkcode #read} for a chunk: one function for the reader's life. */
  readonly #adopt = (chunk: Uint8Array | null): number | null => {
    if (chunk === null) return null;
    this.#buffer = chunk;
    this.#start = this.#end = 0;
    return chunk.byteLength;
  };

  /** Makes room in the buffer for a read: where to read into. */
  #room(): Uint8Array {
    if (this.#buffer !== this.#own) {
      // The rest of a handed-over chunk: a header or a control frame cut
      // short (a data payload cut short is gathered by #gatherPayload), so
      // it fits our buffer.
      this.#own.set(this.#buffer.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buffer = this.#own;
    }
    const buffer = this.#buffer;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
    } else if (this.#start > 0 && this.#end > buffer.length - FILL_MARGIN) {
      buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    // An emptied buffer is read into whole: no view of it to hold while an
    // idle connection waits.
    return this.#end === 0 ? buffer : buffer.subarray(this.#end);
  }

  /** The rest of {@linkcode #fill}: one function for the reader's life. */
  readonly #filled = (read: number | null): boolean => {
    if (read === null) return false;
    this.heard = true;
    const buffer = this.#buffer;
    this.#end += read;
    if (
      this.#end === buffer.length && buffer === this.#own &&
      buffer.length < MAX_READ_BUFFER_BYTES
    ) {
      // A read that took all the room there was: more is waiting, so read
      // more at a time. Connections that only chat keep a small buffer.
      this.#buffer = this.#own = new Uint8Array(buffer.length * 4);
      this.#buffer.set(buffer.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
    }
    return true;
  };

  /**
   * Takes `length` bytes of payload, unmasked, copied out of the read buffer
   * or, when longer than it, read straight into their own array. Returns
   * `undefined` when `skip` is set, and `null` when the connection ended
   * first.
   */
  async #readPayload(
    length: number,
    skip: boolean,
    maskKey: number,
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
    if (length <= this.#end - this.#start) {
      return this.#takeDataPayload(length, maskKey);
    }
    if (length <= MAX_READ_BUFFER_BYTES - FILL_MARGIN) {
      if (this.#source.readChunk !== undefined) {
        return this.#gatherPayload(length, maskKey);
      }
      if (length <= this.#buffer.length - FILL_MARGIN) {
        while (this.#end - this.#start < length) {
          if (!await this.#fill()) return null;
        }
        return this.#takeDataPayload(length, maskKey);
      }
    }
    // Too long to gather in the buffer: take what it holds of the payload,
    // and read the rest straight into place.
    const payload = new Uint8Array(length);
    let filled = Math.min(length, this.#end - this.#start);
    payload.set(this.#buffer.subarray(this.#start, this.#start + filled));
    this.#start += filled;
    while (filled < length) {
      const read = await this.#source.read(payload.subarray(filled));
      if (read === null) return null;
      this.heard = true;
      filled += read;
    }
    if (maskKey !== 0) applyMask(payload, 0, length, maskKey);
    return payload;
  }

  /**
   * A payload of `length` bytes that runs on past the chunk being parsed,
   * from a source that hands over its chunks, reading no more than it lacks,
   * so that the chunk it ends in is then handed over from there on. A chunk
   * it starts in becomes its own array (see {@linkcode #claimChunk}); in our
   * own buffer it is gathered there.
   */
  #gatherPayload(
    length: number,
    maskKey: number,
  ): Promise<Uint8Array | null> {
    if (this.#buffer !== this.#own) {
      const held = this.#end - this.#start;
      const payload = this.#claimChunk(held, length);
      this.#buffer = payload;
      this.#end = held;
      return this.#readRest(length, length, maskKey);
    }
    let own = this.#own;
    const held = this.#buffer.subarray(this.#start, this.#end);
    if (own.length < length) {
      let size = own.length;
      while (size < length) size *= 4;
      own = this.#own = new Uint8Array(size);
    }
    own.set(held);
    this.#buffer = own;
    this.#start = 0;
    this.#end = held.byteLength;
    return this.#readRest(length, length, maskKey);
  }

  /**
   * Makes the handed-over chunk a payload's own array, of `length` bytes:
   * the `held` bytes of it at `#start` move to the front of its memory,
   * which is resized to fit, without a new allocation where the allocator
   * can resize in place. The chunk is then all taken.
   */
  #claimChunk(held: number, length: number): Uint8Array {
    const chunk = this.#buffer;
    // The source gives each chunk's ArrayBuffer to us alone.
    const memory = chunk.buffer as ArrayBuffer;
    const at = chunk.byteOffset + this.#start;
    if (at > 0) new Uint8Array(memory).copyWithin(0, at, at + held);
    this.#buffer = this.#own;
    this.#start = this.#end = 0;
    return new Uint8Array(memory.transfer(length));
  }

  /**
   * Reads into the buffer up to `end`, then takes the payload of `length`
   * bytes that ends there.
   */
  async #readRest(
    end: number,
    length: number,
    maskKey: number,
  ): Promise<Uint8Array | null> {
    const buffer = this.#buffer;
    while (this.#end < end) {
      const read = await this.#source.read(buffer.subarray(this.#end, end));
      if (read === null) return null;
      this.heard = true;
      this.#end += read;
    }
    return this.#takeDataPayload(length, maskKey);
  }
}

/**
 * Where an HTTP head ends in `bytes[start, end)`: the index just after the
 * blank line, or -1 while it has not arrived.
 */
function findHeadEnd(bytes: Uint8Array, start: number, end: number): number {
  for (let i = start + 3; i < end; i++) {
    if (
      bytes[i] === 0x0a && bytes[i - 1] === 0x0d && bytes[i - 2] === 0x0a &&
      bytes[i - 3] === 0x0d
    ) {
      return i + 1;
    }
  }
  return -1;
}
