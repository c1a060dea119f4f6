/**
 * Micro-benchmarks of the socket transport's per-message work, with no
 * socket: a {@linkcode SocketSession} (reader, writer and session loop)
 * echoing messages, one round trip at a time, with an in-memory peer that
 * answers each frame as a real one would. What is measured is the JavaScript
 * a round trip costs us, without the system calls that make real figures
 * noisy. Run with `deno bench bench/micro/`.
 *
 * @module
 */

import type { Role } from "../../src/close_code.ts";
import type { Message } from "../../src/message.ts";
import type { ByteConnection } from "../../src/socket/byte_connection.ts";
import {
  applyMask,
  frameSize,
  parseFrameHeader,
  writeFrame,
} from "../../src/socket/frame.ts";
import { FrameReader } from "../../src/socket/frame_reader.ts";
import { SocketSession } from "../../src/socket/session.ts";

/**
 * The peer of a session in `role`: every frame written to it comes back as
 * the peer would send it, on the next read. It reuses its buffer, so that
 * what is measured is the session's work.
 */
class EchoPeer implements ByteConnection {
  readonly #role: Role;
  /** Bytes [#start, #end) of #buffer wait to be read. */
  #buffer = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #waiter: { into: Uint8Array; resolve: (read: number) => void } | undefined;

  constructor(role: Role) {
    this.#role = role;
  }

  read(into: Uint8Array): Promise<number | null> {
    if (this.#end > this.#start) return Promise.resolve(this.#take(into));
    return new Promise((resolve) => this.#waiter = { into, resolve });
  }

  write(bytes: Uint8Array): Promise<void> {
    const peer = this.#role === "client" ? "server" : "client";
    const masked = peer === "client";
    if (this.#start === this.#end) this.#start = this.#end = 0;
    let at = 0;
    while (at < bytes.byteLength) {
      const header = parseFrameHeader(bytes, at, bytes.byteLength, peer)!;
      const payload = bytes.subarray(
        at + header.headerBytes,
        at + header.headerBytes + header.length,
      );
      // Unmasked in place: the writer is done with the bytes once written.
      if (header.maskKey !== 0) {
        applyMask(payload, 0, payload.byteLength, header.maskKey);
      }
      const size = frameSize(payload.byteLength, masked);
      if (this.#end + size > this.#buffer.byteLength) {
        const grown = new Uint8Array(2 * (this.#end + size));
        grown.set(this.#buffer.subarray(0, this.#end));
        this.#buffer = grown;
      }
      this.#end = writeFrame(
        this.#buffer,
        this.#end,
        header.opcode,
        payload,
        payload.byteLength,
        masked,
      );
      at += header.headerBytes + header.length;
    }
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve(this.#take(waiter.into));
    return Promise.resolve();
  }

  close(): void {}

  /** Moves the oldest pending bytes into `into`, as much as fits. */
  #take(into: Uint8Array): number {
    const taken = Math.min(into.byteLength, this.#end - this.#start);
    into.set(this.#buffer.subarray(this.#start, this.#start + taken));
    this.#start += taken;
    return taken;
  }
}

/** An open session in `role` and a way to wait for its next message. */
async function openSession(role: Role) {
  const connection = new EchoPeer(role);
  const session = new SocketSession(
    {
      role,
      highWaterMark: 64 * 1024,
      keepaliveIntervalMs: 0,
      pausable: true,
    },
    () =>
      Promise.resolve({
        connection,
        reader: new FrameReader(connection, {
          role,
          messageLimit: 64 * 1024 * 1024,
        }),
        protocol: "",
        extensions: "",
      }),
  );
  let received: ((message: Message) => void) | undefined;
  const { promise: opened, resolve: open } = Promise.withResolvers<void>();
  session.start({
    onOpen: () => open(),
    onMessage: (message) => {
      received?.(message);
      return true;
    },
    onOverflow: () => {},
    onClose: () => {},
  });
  await opened;
  return {
    roundTrip(message: Message): Promise<Message> {
      const answer = new Promise<Message>((resolve) => received = resolve);
      session.send(message);
      return answer;
    },
  };
}

function benchEcho(name: string, role: Role, message: Message): void {
  const opening = openSession(role);
  Deno.bench(`echo ${name}, ${role} role`, { group: role }, async () => {
    const session = await opening;
    await session.roundTrip(message);
  });
}

for (const role of ["client", "server"] as const) {
  benchEcho("64 B text", role, "x".repeat(64));
  benchEcho("64 B binary", role, new Uint8Array(64));
  benchEcho("16 KiB binary", role, new Uint8Array(16 * 1024));
}
