/**
 * The echo route both bench servers serve, in its plain and stream forms,
 * and the garbage collection they run before reporting memory.
 *
 * @module
 */

import { upgradeWebSocketStream, type WebSocketStream } from "../../mod.ts";

/** Open echo connections, and those that ended uncleanly. */
export interface EchoTally {
  open: number;
  errors: number;
}

/** Echoes with `Deno.upgradeWebSocket`: the floor the streams are measured against. */
export function echoPlain(request: Request, tally: EchoTally): Response {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => tally.open++;
  socket.onclose = (event) => {
    tally.open--;
    if (!event.wasClean) tally.errors++;
  };
  socket.onmessage = (event) => socket.send(event.data);
  return response;
}

/** Echoes with `upgradeWebSocketStream`: a read loop and a writer. */
export function echoOurs(request: Request, tally: EchoTally): Response {
  const { response, stream } = upgradeWebSocketStream(request);
  if (stream === undefined) tally.errors++;
  else echoStream(stream, tally);
  return response;
}

/**
 * Echoes on a stream from either server path the way a handler is usually
 * written: a read loop that writes each message back through a writer. An
 * idle connection so holds a pending read and a writer.
 */
export function echoStream(stream: WebSocketStream, tally: EchoTally): void {
  stream.opened.then(async ({ readable, writable }) => {
    tally.open++;
    const reader = readable.getReader();
    const writer = writable.getWriter();
    // The loop ends in an error even after a clean close (the writable is
    // errored then, as the standard says); only `closed` tells how it ended.
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        await writer.write(value);
      }
    } catch { /* see `closed` */ }
    await stream.closed.catch(() => tally.errors++);
    tally.open--;
  }).catch(() => tally.errors++);
}

const gc = (globalThis as { gc?: () => void }).gc;

/**
 * Collects garbage twice with a turn between, so that finalizers run and only
 * live memory is left (needs `--v8-flags=--expose-gc`).
 */
export async function collectGarbage(): Promise<void> {
  gc?.();
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc?.();
}
