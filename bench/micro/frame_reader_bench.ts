/**
 * Micro-benchmarks of the socket transport's frame reader, from plain bytes:
 * 64 small frames that arrived in one read (parsed without a promise each),
 * the same frames one read each, and 16 KiB frames masked as a client sends
 * them (the server role) or plain (the client role). Run with
 * `deno bench bench/micro/`.
 *
 * @module
 */

import type { Role } from "../../src/close_code.ts";
import { type ByteSource, FrameReader } from "../../src/socket/frame_reader.ts";
import { frameSize, Opcode, writeFrame } from "../../src/socket/frame.ts";

/** `count` binary frames of `size` bytes, masked for a server to read. */
function frames(count: number, size: number, role: Role): Uint8Array[] {
  const masked = role === "server";
  const payload = new Uint8Array(size);
  return Array.from({ length: count }, () => {
    const frame = new Uint8Array(frameSize(size, masked));
    writeFrame(frame, 0, Opcode.Binary, payload, size, masked);
    return frame;
  });
}

/** Serves `chunks` over and over, one per read (or less, if it must). */
class Replay implements ByteSource {
  #next = 0;
  #offset = 0;
  constructor(readonly chunks: Uint8Array[]) {}
  read(into: Uint8Array): Promise<number> {
    const chunk = this.chunks[this.#next]!;
    const taken = Math.min(into.byteLength, chunk.byteLength - this.#offset);
    into.set(chunk.subarray(this.#offset, this.#offset + taken));
    this.#offset += taken;
    if (this.#offset === chunk.byteLength) {
      this.#offset = 0;
      this.#next = (this.#next + 1) % this.chunks.length;
    }
    return Promise.resolve(taken);
  }
}

function join(parts: Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.byteLength;
  }
  return joined;
}

function benchReader(
  name: string,
  chunks: Uint8Array[],
  messages: number,
  role: Role,
): void {
  const reader = new FrameReader(new Replay(chunks), {
    role,
    messageLimit: 16 * 1024 * 1024,
  });
  Deno.bench(name, { group: "read" }, async () => {
    for (let i = 0; i < messages; i++) await reader.next();
  });
}

const small = frames(64, 64, "client");
benchReader("64 frames of 64 B in one read", [join(small)], 64, "client");
benchReader("64 frames of 64 B, one read each", small, 64, "client");
benchReader(
  "16 KiB frame, client role",
  frames(1, 16 * 1024, "client"),
  1,
  "client",
);
benchReader(
  "16 KiB frame, server role (unmasking)",
  frames(1, 16 * 1024, "server"),
  1,
  "server",
);
