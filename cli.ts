/**
 * A command line WebSocket client and server in the spirit of websocat and
 * wscat, built on {@linkcode WebSocketStream} so that backpressure holds from
 * stdin to the peer: a fast producer is paused instead of buffered.
 *
 * ```sh
 * # Connect; each line of stdin is a message, each message a line of stdout.
 * deno run -A jsr:@streams/websocket/cli ws://127.0.0.1:8080/
 * # Serve an echo server.
 * deno run -A jsr:@streams/websocket/cli --listen 8080 --echo
 * ```
 *
 * Run with `--help` for every option and the exit statuses. {@linkcode main}
 * runs the tool in-process on any streams.
 *
 * @module
 */

import { denoIo, main } from "./cli/main.ts";

export { type CliIo, ExitStatus, main } from "./cli/main.ts";

if (import.meta.main) {
  const stop = new AbortController();
  // The first interrupt closes cleanly with the chosen code; a second one
  // does not wait for the peer.
  const onSignal = () => {
    if (stop.signal.aborted) {
      Deno.stderr.writeSync(new TextEncoder().encode("interrupted\n"));
      Deno.exit(130);
    }
    stop.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSignal);
  Deno.exit(await main(Deno.args, denoIo(stop.signal)));
}
