/**
 * The small interface the frame reader and writer use instead of a socket,
 * with one adapter per runtime's socket (`Deno.Conn`, a Node `net.Socket`).
 *
 * @module
 */

/**
 * A bidirectional byte stream. It reads from the peer only while a
 * {@linkcode ByteConnection.read} is asked for (an adapter may read a little
 * ahead), so a reader that stops asking slows the peer down through TCP.
 */
export interface ByteConnection {
  /**
   * Reads into `into`: the number of bytes read, at least 1, or `null` at
   * the end of the stream. Rejects when the connection breaks or is closed.
   */
  read(into: Uint8Array): Promise<number | null>;
  /**
   * Reads the next bytes as they were received, in an array whose
   * `ArrayBuffer` is then the caller's alone (to keep, write to or
   * transfer): `null` at the end of the stream. Only where the bytes already
   * arrive in arrays of their own (a Node socket's chunks), so that the
   * frame reader takes payloads from them instead of copying them into its
   * buffer first.
   */
  readChunk?(): Promise<Uint8Array | null>;
  /**
   * Writes all of `bytes`; resolves once the connection took them, so the
   * caller may then reuse the buffer. Rejects when the connection breaks.
   */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes the connection; reads and writes in progress then reject or end. */
  close(): void;
}
