/**
 * The socket session over a connection that cannot pause reading from TCP
 * (`handleUpgrade` on `node:https` in Deno, whose `node:tls` reads on while
 * its socket is paused): while the session waits for its last frames to
 * leave, what the peer goes on sending must be read and dropped, or the
 * socket holds all of it until the hang-up.
 */

import assert from "node:assert/strict";
import type { ByteConnection } from "../src/socket/byte_connection.ts";
import { createServerTransport } from "../src/socket/server_transport.ts";
import type { TransportEvents } from "../src/transport.ts";
import { BOUND_MS, fulfilmentWithin } from "./_assert.ts";
import { closePayload, Opcode } from "./_raw_server.ts";
import { encodeClientFrame } from "./_raw_client.ts";

/** What the peer sends once its first frames are read, for as long as it is read. */
const FLOOD = encodeClientFrame(Opcode.binary, new Uint8Array(64 * 1024));

/**
 * A client that takes our 101 and nothing after it, so our last frames never
 * leave, and sends `first`, then {@linkcode FLOOD} after FLOOD.
 */
class FloodingClient implements ByteConnection {
  /** The bytes read after `first`. */
  floodRead = 0;
  #pending: Uint8Array;
  #flooding = false;
  #answered = false;
  #closed = false;
  #waiting:
    | { timer: ReturnType<typeof setTimeout>; reject: (error: Error) => void }
    | undefined;

  constructor(first: Uint8Array) {
    this.#pending = first;
  }

  read(into: Uint8Array): Promise<number | null> {
    // A turn of the event loop per read, as reads from TCP take.
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        if (this.#pending.byteLength === 0) {
          this.#pending = FLOOD;
          this.#flooding = true;
        }
        const taken = Math.min(into.byteLength, this.#pending.byteLength);
        into.set(this.#pending.subarray(0, taken));
        this.#pending = this.#pending.subarray(taken);
        if (this.#flooding) this.floodRead += taken;
        resolve(taken);
      }, 0);
      this.#waiting = { timer, reject };
    });
  }

  write(): Promise<void> {
    // The 101 is taken; nothing after it ever is.
    if (this.#answered) return new Promise(() => {});
    this.#answered = true;
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting === undefined) return;
    clearTimeout(waiting.timer);
    waiting.reject(new Error("Cannot read: the connection was closed"));
  }
}

const endings: [string, Uint8Array][] = [
  ["failing the connection", encodeClientFrame(3, "x")],
  [
    "answering the client's Close",
    encodeClientFrame(Opcode.close, closePayload(1000)),
  ],
];

for (const [what, first] of endings) {
  Deno.test(`SRV-16 session: on a connection that cannot pause, what the client sends while ${what} is read and dropped`, async () => {
    const client = new FloodingClient(first);
    const transport = createServerTransport(client, {
      key: "dGhlIHNhbXBsZSBub25jZQ==",
      protocol: undefined,
      head: new Uint8Array(0),
      highWaterMark: 64 * 1024,
      messageLimit: 1024 * 1024,
      idleTimeout: 0,
      pausable: false,
    });
    const closed = Promise.withResolvers<
      Parameters<TransportEvents["onClose"]>
    >();
    transport.start({
      onOpen: () => {},
      onMessage: () => true,
      onOverflow: () => {},
      onClose: (...outcome) => closed.resolve(outcome),
    });
    await fulfilmentWithin(closed.promise, BOUND_MS, "the end of the session");
    client.close();
    assert.ok(
      client.floodRead > 0,
      "nothing the client sent after its first frame was read before the hang-up",
    );
  });
}
