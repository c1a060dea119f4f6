/**
 * A reader slower than its server, over both transports. A local server sends
 * 32 MiB as fast as its writes resolve; the client reads a 64 KiB message
 * every 2 ms with a 1 MiB `receiveLimit`. Over the default transport the
 * reader falls behind the limit and the connection ends with 4009; with
 * `transport: "socket"` the server's writes wait for the reader instead, and
 * every byte arrives.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 examples/slow_reader.ts
 * ```
 *
 * @module
 */

import {
  upgradeWebSocketStream,
  WebSocketError,
  WebSocketStream,
  type WebSocketStreamOptions,
} from "../mod.ts";

const MESSAGE_BYTES = 64 * 1024;
const MESSAGES = 512;
const MiB = 1024 * 1024;

/** Serves clients that each get MESSAGES messages, then a 1000 close. */
function startSender() {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const { response, stream } = upgradeWebSocketStream(request);
      stream?.opened.then(async ({ writable }) => {
        const writer = writable.getWriter();
        for (let i = 0; i < MESSAGES; i++) {
          await writer.write(new Uint8Array(MESSAGE_BYTES));
        }
        stream.close({ closeCode: 1000, reason: "all sent" });
      }).catch(() => {
        // The client went away; its side reports why.
      });
      return response;
    },
  );
  return {
    url: `ws://127.0.0.1:${server.addr.port}/`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Reads slowly until the connection ends; describes how it ended. */
async function readSlowly(
  url: string,
  options: WebSocketStreamOptions,
): Promise<string> {
  const wss = new WebSocketStream(url, { receiveLimit: MiB, ...options });
  const { readable } = await wss.opened;
  let bytes = 0;
  try {
    for await (const message of readable) {
      bytes += (message as Uint8Array).byteLength;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const { closeCode, reason } = await wss.closed;
    return `received ${
      bytes / MiB
    } MiB, closed cleanly: ${closeCode} "${reason}"`;
  } catch (error) {
    if (!(error instanceof WebSocketError)) throw error;
    return `received ${
      bytes / MiB
    } MiB, then ${error.closeCode} "${error.reason}"`;
  }
}

await using sender = startSender();
for (const transport of ["websocket", "socket"] as const) {
  const started = performance.now();
  const outcome = await readSlowly(sender.url, { transport });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${transport}: ${outcome} (${seconds} s)`);
}
