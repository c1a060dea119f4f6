/**
 * A {@linkcode Transport} whose code is loaded when a connection first needs
 * it: a process that only ever uses the default transport then does not load
 * the socket transport's modules, which would hold its memory for nothing.
 *
 * @module
 */

import { describeError } from "./describe_error.ts";
import type { Message } from "./message.ts";
import type { Transport, TransportEvents } from "./transport.ts";

/**
 * Stands in for the transport that `load` makes, from `start()` on. The
 * stream core only terminates a transport before it has opened, so every
 * other call finds the real one made.
 */
export class LazyTransport implements Transport {
  readonly pausable: boolean;
  /** Dropped once called. */
  #load: (() => Promise<Transport>) | undefined;
  readonly #check: () => void;
  #transport: Transport | undefined;
  #terminated = false;

  /**
   * @param load Makes the transport, loading its code first.
   * @param pausable The made transport's {@linkcode Transport.pausable}.
   * @param check What the made transport's `start()` would throw for, run
   *   as `start()` begins so that it throws at once, as that one would.
   */
  constructor(
    load: () => Promise<Transport>,
    pausable: boolean,
    check: () => void,
  ) {
    this.#load = load;
    this.pausable = pausable;
    this.#check = check;
  }

  start(events: TransportEvents): void {
    this.#check();
    const load = this.#load!;
    this.#load = undefined;
    load().then((transport) => {
      if (this.#terminated) return;
      this.#transport = transport;
      // It checks again, and what it checks may have changed meanwhile (a
      // permission revoked): its throw must end the connection, not go
      // unobserved in this promise.
      try {
        transport.start(events);
      } catch (error) {
        fail(events, "start", error);
      }
    }, (error) => {
      if (!this.#terminated) fail(events, "load", error);
    });
  }

  send(message: Message): true | Promise<boolean> {
    return this.#transport?.send(message) ?? Promise.resolve(false);
  }

  resume(): void {
    this.#transport?.resume?.();
  }

  close(closeCode: number | undefined, reason: string): void {
    this.#transport?.close(closeCode, reason);
  }

  terminate(): void {
    this.#terminated = true;
    this.#transport?.terminate();
  }
}

/** Reports that the transport could not be loaded or started. */
function fail(
  events: TransportEvents,
  what: "load" | "start",
  error: unknown,
): void {
  events.onClose(
    null,
    "",
    `Cannot ${what} the transport: ${describeError(error)}`,
    false,
  );
}
