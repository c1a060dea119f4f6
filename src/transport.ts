/**
 * The small interface between the stream logic and whatever carries the
 * messages. The client (`new WebSocket`), the server role
 * (`Deno.upgradeWebSocket`) and any future transport implement it; the
 * stream core never sees a socket.
 *
 * @module
 */

import type { Message } from "./message.ts";

/** What a transport reports to the stream core. Each is called at most as described. */
export interface TransportEvents {
  /** The opening handshake succeeded. Called at most once, before any message. */
  onOpen(protocol: string, extensions: string): void;
  /**
   * A whole message arrived. Returns whether the receiver has room for more:
   * a transport that can pause reading stops until {@linkcode Transport.resume}.
   */
  onMessage(message: Message): boolean;
  /**
   * A message longer than the receiver takes is arriving; the transport
   * drops it. Only transports that read frames themselves call it.
   */
  onOverflow(): void;
  /**
   * The connection is over. Called exactly once, last.
   *
   * @param closeCode The code of the peer's Close frame, 1005 for an empty one,
   *   or `null` when no Close frame arrived (an abnormal close, 1006).
   * @param reason The reason in the peer's Close frame.
   * @param failure Why the connection failed, when the transport knows.
   * @param wasClean Whether the closing handshake completed: a Close frame
   *   may have arrived on a connection that still ended badly.
   */
  onClose(
    closeCode: number | null,
    reason: string,
    failure: string,
    wasClean: boolean,
  ): void;
}

/** A message-oriented, bidirectional connection. */
export interface Transport {
  /**
   * Connects, or takes over an existing connection, and starts delivering
   * events; called at most once. Errors a connection attempt cannot even
   * start with (a missing permission) are thrown.
   */
  start(events: TransportEvents): void;
  /**
   * Sends one message. The bytes are taken before this returns, so the caller
   * may reuse its buffer. Returns `true` when there is room for more, or a
   * promise that resolves to `true` once there is room, or to `false` when
   * the connection ended first (the message may not have been sent).
   */
  send(message: Message): true | Promise<boolean>;
  /**
   * Whether reading stops after `onMessage` returned `false`, until
   * `resume()`: a slow reader then slows the peer down through TCP. A
   * `WebSocket` cannot pause, nor can a socket whose `pause()` does not stop
   * reading from TCP; the core then bounds what waits by its receive limit.
   */
  readonly pausable: boolean;
  /** Reading may go on after `onMessage` returned `false`; see `pausable`. */
  resume?(): void;
  /** Starts the closing handshake; without a code, an empty Close frame. */
  close(closeCode: number | undefined, reason: string): void;
  /**
   * Drops the connection, or the attempt to make one, without finishing any
   * handshake. Does nothing before `start`. Events that follow are ignored.
   */
  terminate(): void;
}
