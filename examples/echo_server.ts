/**
 * The smallest useful WebSocketStream server: every message comes back as it
 * came, text as text and binary as binary.
 *
 * Run: `deno run --allow-net --allow-env examples/echo_server.ts [port]`
 * (the port comes from the argument, else `PORT`, else 8080).
 *
 * @module
 */

import { upgradeWebSocketStream } from "../mod.ts";

/** Options for {@linkcode startEchoServer}. */
export interface EchoServerOptions {
  /** The port to listen on; `0` picks a free one. */
  port: number;
  /** The interface to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
}

/** Starts the echo server and returns Deno's server handle. */
export function startEchoServer(
  options: EchoServerOptions,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    onListen: () => {},
  }, (request) => {
    const { response, stream } = upgradeWebSocketStream(request);
    stream?.opened
      .then(({ readable, writable }) => readable.pipeTo(writable))
      // The pipe fails whenever a client leaves without closing cleanly.
      .catch(() => {});
    return response;
  });
}

if (import.meta.main) {
  const given = Deno.args[0] ?? Deno.env.get("PORT") ?? "8080";
  const port = Number(given);
  if (!/^\d+$/.test(given) || port > 65535) {
    console.error(
      `Cannot start the echo server: the port must be a number from 0 to 65535, received "${given}"`,
    );
    Deno.exit(2);
  }
  const server = startEchoServer({ port });
  console.log(`Echo server on ws://127.0.0.1:${server.addr.port}/`);
}
