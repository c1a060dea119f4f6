/**
 * The {@linkcode ByteConnection} over a Node `net.Socket` or any `Duplex`:
 * what the `upgrade` event of `node:http` hands over. Its chunks are pushed
 * at us, so the adapter holds a little of them and pauses the socket while
 * that is full, which stops reading from TCP, where pausing does.
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
  /**
   * A read waiting for data, and where it goes (`undefined` for a whole
   * chunk): filled as the data arrives, so an idle connection holds no
   * suspended function for it.
   */
  #waiter: PromiseWithResolvers<number | Uint8Array | null> | undefined;
  #waitingInto: Uint8Array | undefined;

  /**
   * @param pausable Whether pausing `socket` stops reading from TCP. If not,
   *   it is never paused (what it would read on would pile up unseen), and
   *   the reader must keep up.
   */
  constructor(socket: Duplex, pausable: boolean) {
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array | string) => {
      this.#push(
        typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk,
      );
      if (pausable && this.#bytes >= READ_AHEAD_BYTES) socket.pause();
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
    // A socket handed over late (after an asynchronous check, say) may have
    // ended already, and its events will not come again.
    if (socket.readableEnded || socket.destroyed) this.#ended = true;
  }

  #push(chunk: Uint8Array): void {
    // Held as a plain Uint8Array, whose slice() copies (a Buffer's is a
    // view); a chunk that shares its memory with others is copied, so that
    // what readChunk() hands over is the reader's alone (a socket's do not).
    this.#chunks.push(
      chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength
        ? new Uint8Array(chunk.buffer, 0, chunk.byteLength)
        : new Uint8Array(chunk),
    );
    this.#bytes += chunk.byteLength;
    this.#wake();
  }

  /** Settles the waiting read, if any, once there is something to tell it. */
  #wake(): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    if (this.#chunks.length > 0) {
      const into = this.#waitingInto;
      this.#forgetWaiter();
      waiter.resolve(into === undefined ? this.#takeChunk() : this.#take(into));
    } else if (this.#error !== undefined) {
      this.#forgetWaiter();
      waiter.reject(this.#error);
    } else if (this.#ended) {
      this.#forgetWaiter();
      waiter.resolve(null);
    }
  }

  #forgetWaiter(): void {
    this.#waiter = undefined;
    this.#waitingInto = undefined;
  }

  read(into: Uint8Array): Promise<number | null> {
    if (this.#waiter === undefined && this.#chunks.length > 0) {
      return Promise.resolve(this.#take(into));
    }
    return this.#wait(into) as Promise<number | null>;
  }

  /** The chunks as the socket gave them: no copy. */
  readChunk(): Promise<Uint8Array | null> {
    if (this.#waiter === undefined && this.#chunks.length > 0) {
      return Promise.resolve(this.#takeChunk());
    }
    return this.#wait(undefined) as Promise<Uint8Array | null>;
  }

  /** A read into `into`, or of a chunk, once data, the end or an error comes. */
  #wait(into: Uint8Array | undefined): Promise<number | Uint8Array | null> {
    const waiter = this.#waiter;
    // One read at a time, as the frame reader asks; another waits its turn.
    if (waiter !== undefined) {
      return waiter.promise.then((): Promise<number | Uint8Array | null> =>
        into === undefined ? this.readChunk() : this.read(into)
      );
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    this.#socket.resume();
    this.#waiter = Promise.withResolvers();
    this.#waitingInto = into;
    return this.#waiter.promise;
  }

  /** The first chunk held, from where reads left it. */
  #takeChunk(): Uint8Array {
    const chunk = this.#chunks.shift()!;
    const taken = this.#offset === 0 ? chunk : chunk.subarray(this.#offset);
    this.#offset = 0;
    this.#taken(taken.byteLength);
    return taken;
  }

  /** Moves what is held into `into`, as much as fits. */
  #take(into: Uint8Array): number {
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
    this.#taken(read);
    return read;
  }

  #taken(bytes: number): void {
    this.#bytes -= bytes;
    if (this.#bytes < READ_AHEAD_BYTES && !this.#ended) this.#socket.resume();
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
