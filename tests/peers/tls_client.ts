/**
 * A client over `transport: "socket"` for the TLS test, which runs it in its
 * own process so that `--cert` can make the test CA trusted: echoes a text
 * and a 1 MiB binary message, closes, and prints what happened as JSON.
 *
 * Usage: `deno run --allow-net [--cert CA] tests/peers/tls_client.ts URL`
 */

import { WebSocketStream } from "../../mod.ts";

const [url = ""] = Deno.args;
try {
  const wss = new WebSocketStream(url, { transport: "socket" });
  const { readable, writable } = await wss.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  await writer.write("over TLS");
  const text = (await reader.read()).value;
  await writer.write(new Uint8Array(1024 * 1024).fill(7));
  const binary = (await reader.read()).value as Uint8Array;
  wss.close({ closeCode: 4000, reason: "done" });
  const closed = await wss.closed;
  console.log(JSON.stringify({
    text,
    binaryBytes: binary.byteLength,
    binaryIntact: binary.every((byte) => byte === 7),
    closed,
  }));
} catch (error) {
  const { name, message } = error as Error;
  console.log(JSON.stringify({ error: name, message }));
}
