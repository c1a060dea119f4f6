/**
 * A Deno Deploy style module: `export default { fetch }`, upgrading WebSocket
 * requests with `upgradeWebSocketStream` and answering the rest over HTTP.
 * WebSocket clients get every message echoed back, text prefixed with
 * `echo: ` and binary unchanged; the stream pipeline keeps a client that does
 * not read from growing the server's memory.
 *
 * ```sh
 * deno serve --allow-net examples/deploy_handler.ts
 * # then: deno run -A cli.ts ws://localhost:8000/
 * ```
 *
 * @module
 */

import { upgradeWebSocketStream } from "../mod.ts";

export default {
  /** Upgrades WebSocket requests; plain requests get a short explanation. */
  fetch(request: Request): Response {
    if (request.headers.get("upgrade") === null) {
      return new Response(
        "Connect with a WebSocket client to get every message echoed.\n",
      );
    }
    const { response, stream } = upgradeWebSocketStream(request, {
      origins: (origin) =>
        origin === null || origin === new URL(request.url).origin,
    });
    stream?.opened.then(({ readable, writable }) =>
      readable
        .pipeThrough(
          new TransformStream<string | Uint8Array, string | Uint8Array>({
            transform: (message, controller) =>
              controller.enqueue(
                typeof message === "string" ? `echo: ${message}` : message,
              ),
          }),
        )
        .pipeTo(writable)
    ).catch(() => {
      // The client went away.
    });
    return response;
  },
} satisfies Deno.ServeDefaultExport;
