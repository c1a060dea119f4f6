/**
 * A broadcast chat: every text message a client sends goes to every client.
 *
 * One slow client must not stall or bloat the others, so each client gets its
 * own bounded send queue, drained by its own writer. Broadcasting only
 * appends to the queues and never waits. A client whose queue is full (it
 * stopped reading, or reads slower than the room talks) is dropped with close
 * code {@linkcode SLOW_CLIENT_CLOSE_CODE} (4008, "Too slow: send queue full"),
 * and if it does not even answer that Close it is cut off after the stream's
 * `closeTimeout`. Memory per client is thus bounded by the queue limit plus
 * the stream's write high-water mark.
 *
 * Run: `deno run --allow-net --allow-env examples/broadcast_chat.ts [port]`
 * (the port comes from the argument, else `PORT`, else 8080).
 *
 * @module
 */

import { upgradeWebSocketStream, type WebSocketStream } from "../mod.ts";

/** The close code a client too slow to keep up is dropped with. */
export const SLOW_CLIENT_CLOSE_CODE = 4008;
const SLOW_CLIENT_REASON = "Too slow: send queue full";

/** Options for {@linkcode startChatServer}. */
export interface ChatServerOptions {
  /** The port to listen on; `0` picks a free one. */
  port: number;
  /** The interface to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
  /** Messages waiting for one client before it is dropped. @default {64} */
  queueLimit?: number;
}

/** A running chat server. */
export interface ChatServer {
  /** Deno's server handle. */
  readonly server: Deno.HttpServer<Deno.NetAddr>;
  /** How many clients are in the room. */
  readonly clients: number;
}

/** One client's stream and its bounded queue of messages to send. */
class Member {
  readonly #stream: WebSocketStream;
  readonly #writer: WritableStreamDefaultWriter<unknown>;
  readonly #limit: number;
  #queue: string[] = [];
  #sending = false;
  #dropped = false;

  constructor(
    stream: WebSocketStream,
    writable: WritableStream<unknown>,
    limit: number,
  ) {
    this.#stream = stream;
    this.#writer = writable.getWriter();
    this.#limit = limit;
  }

  /** Queues `message`, or drops the client when its queue is full. */
  send(message: string): void {
    if (this.#dropped) return;
    if (this.#queue.length >= this.#limit) {
      this.#dropped = true;
      this.#queue = [];
      this.#stream.close({
        closeCode: SLOW_CLIENT_CLOSE_CODE,
        reason: SLOW_CLIENT_REASON,
      });
      return;
    }
    this.#queue.push(message);
    if (!this.#sending) this.#drain();
  }

  async #drain(): Promise<void> {
    this.#sending = true;
    try {
      while (this.#queue.length > 0) {
        // Resolves only while the socket has room: this is the backpressure.
        await this.#writer.write(this.#queue.shift());
      }
    } catch {
      // The connection ended; the reader's loop removes the member.
      this.#queue = [];
    } finally {
      this.#sending = false;
    }
  }
}

/** Starts the chat server. */
export function startChatServer(options: ChatServerOptions): ChatServer {
  const members = new Set<Member>();
  const queueLimit = options.queueLimit ?? 64;
  const join = async (stream: WebSocketStream) => {
    const { readable, writable } = await stream.opened;
    const member = new Member(stream, writable, queueLimit);
    members.add(member);
    try {
      for await (const message of readable) {
        if (typeof message !== "string") continue;
        for (const other of members) other.send(message);
      }
    } finally {
      members.delete(member);
    }
  };
  const server = Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    onListen: () => {},
  }, (request) => {
    const { response, stream } = upgradeWebSocketStream(request, {
      // A dropped client that does not answer is cut off after 2 s.
      closeTimeout: 2000,
    });
    // A client leaving without a clean close ends its loop with an error.
    if (stream !== undefined) join(stream).catch(() => {});
    return response;
  });
  return {
    server,
    get clients() {
      return members.size;
    },
  };
}

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? Deno.env.get("PORT") ?? 8080);
  const { server } = startChatServer({ port });
  console.log(`Chat server on ws://127.0.0.1:${server.addr.port}/`);
}
