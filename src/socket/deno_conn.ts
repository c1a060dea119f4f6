/**
 * The {@linkcode ByteConnection} over a `Deno.Conn`, which reads from TCP
 * only when asked to.
 *
 * @module
 */

import type { ByteConnection } from "./byte_connection.ts";

/** Adapts a `Deno.Conn` (TCP, or TLS from `Deno.startTls`). */
export class DenoConnection implements ByteConnection {
  readonly #conn: Deno.Conn;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  read(into: Uint8Array): Promise<number | null> {
    return this.#conn.read(into);
  }

  async write(bytes: Uint8Array): Promise<void> {
    let written = await this.#conn.write(bytes);
    while (written < bytes.byteLength) {
      written += await this.#conn.write(bytes.subarray(written));
    }
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}
