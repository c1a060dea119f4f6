/**
 * The {@linkcode ByteConnection} over a Node `net.Socket` or any `Duplex`
 * that can pause: what the `upgrade` event of `node:http` hands over. Its
 * chunks are pushed at us, so the adapter holds a little of them and pauses
 * the socket while that is full, which stops reading from TCP.
 *
 * @module
 */

import type { Duplex } from "node:stream";
import type { ByteConnection } from "./byte_connection.ts";

/** How much received data the adapter holds before it pauses the socket. */
const READ_AHEAD_BYTES = 64 * 1024;

/** Adapts a Node `Duplex`. */
export class NodeSocketConnection implements ByteConnection {
  readonly #socket: Duplex;
  /** Received chunks not yet read; the first from `#offset` on. */
  #chunks: Uint8Array[] = [];
  #offset = 0;
  #bytes = 0;
  #ended = false;
  #error: unknown;
  #waiter: PromiseWithResolvers<void> | undefined;

  constructor(socket: Duplex) {
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array | string) => {
      this.#push(
        typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk,
      );
      if (this.#bytes >= READ_AHEAD_BYTES) socket.pause();
    });
    const end = () => {
      this.#ended = true;
      this.#wake();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", (error: unknown) => {
      this.#error ??= error;
      end();
    });
  }

  #push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.byteLength;
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve();
  }

  async read(into: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return null;
      this.#socket.resume();
      this.#waiter ??= Promise.withResolvers();
      await this.#waiter.promise;
    }
    let read = 0;
    while (read < into.byteLength && this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const taken = Math.min(
        into.byteLength - read,
        chunk.byteLength - this.#offset,
      );
      into.set(chunk.subarray(this.#offset, this.#offset + taken), read);
      read += taken;
      this.#offset += taken;
      if (this.#offset === chunk.byteLength) {
        this.#chunks.shift();
        this.#offset = 0;
      }
    }
    this.#bytes -= read;
    if (this.#bytes < READ_AHEAD_BYTES && !this.#ended) this.#socket.resume();
    return read;
  }

  write(bytes: Uint8Array): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#socket.write(bytes, (error?: Error | null) => {
      if (error) reject(error);
      else resolve();
    });
    return promise;
  }

  close(): void {
    this.#socket.destroy();
    this.#ended = true;
    this.#error ??= new Error("Cannot read: the connection was closed");
    this.#wake();
  }
}
