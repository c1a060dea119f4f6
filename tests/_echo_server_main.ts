/**
 * A child process for the fault tests: an echo server built on
 * `upgradeWebSocketStream` that prints `listening PORT` once it listens.
 *
 * @module
 */

import { upgradeWebSocketStream } from "../mod.ts";

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, (request) => {
  const { response, stream } = upgradeWebSocketStream(request);
  stream?.opened.then(({ readable, writable }) => readable.pipeTo(writable))
    .catch(() => {});
  return response;
});
