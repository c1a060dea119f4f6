/**
 * The one way the frame reader reports a peer that breaks RFC 6455 (and the
 * session one that pings past what it reads): it throws a
 * {@linkcode ProtocolError} carrying the close code to fail the connection
 * with, for frame headers, payloads and Close frames alike.
 *
 * @module
 */

/** Why the connection is being failed, with the code our Close carries. */
export class ProtocolError extends Error {
  /**
   * @param closeCode 1002 for a framing error, 1007 for invalid UTF-8, 1008
   *   for Pings faster than the Pongs are read, 1009 for a frame too long
   *   to represent.
   * @param message What the peer did, for the stream's error.
   */
  constructor(readonly closeCode: number, message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}
