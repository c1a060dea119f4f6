/**
 * The smallest round trip: an echo server made with `upgradeWebSocketStream`
 * and a `WebSocketStream` client that sends text and binary and reads them
 * back.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 examples/client_echo.ts
 * ```
 *
 * @module
 */

import { upgradeWebSocketStream, WebSocketStream } from "../mod.ts";

/** A running local server. */
export interface LocalServer extends AsyncDisposable {
  /** `ws://127.0.0.1:PORT/` */
  url: string;
}

/**
 * Starts an echo server on a free loopback port: every message comes back as
 * it went, with backpressure (`readable.pipeTo(writable)`).
 */
export function startEchoServer(): LocalServer {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const { response, stream } = upgradeWebSocketStream(request);
      stream?.opened
        .then(({ readable, writable }) => readable.pipeTo(writable))
        .catch(() => {
          // The client went away; nothing to echo.
        });
      return response;
    },
  );
  return {
    url: `ws://127.0.0.1:${server.addr.port}/`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Sends each message to `url` and returns what came back, in order. */
export async function echo(
  url: string,
  messages: readonly (string | Uint8Array)[],
): Promise<(string | Uint8Array)[]> {
  const wss = new WebSocketStream(url);
  const { readable, writable } = await wss.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  const replies: (string | Uint8Array)[] = [];
  for (const message of messages) {
    await writer.write(message);
    const { value, done } = await reader.read();
    if (done) throw new Error("The server closed before echoing");
    replies.push(value);
  }
  wss.close({ closeCode: 1000, reason: "done" });
  await wss.closed;
  return replies;
}

if (import.meta.main) {
  await using server = startEchoServer();
  const replies = await echo(server.url, [
    "hello",
    new Uint8Array([1, 2, 3]),
  ]);
  for (const reply of replies) {
    console.log(
      typeof reply === "string"
        ? `text: ${reply}`
        : `binary: ${reply.byteLength} bytes [${reply.join(", ")}]`,
    );
  }
}
