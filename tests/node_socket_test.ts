/**
 * The adapter over a Node `Duplex` on its own: what it hands the frame
 * reader is the reader's alone, whatever memory the stream's chunks share.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { PassThrough } from "node:stream";
import { FrameReader } from "../src/socket/frame_reader.ts";
import { NodeSocketConnection } from "../src/socket/node_socket.ts";
import { encodeClientFrame } from "./_raw_client.ts";
import { Opcode } from "./_raw_server.ts";

Deno.test("node socket: a payload cut across chunks of Node's Buffer pool arrives whole, and leaves the pool alone", async () => {
  // Buffer.allocUnsafe hands out slices of one shared pool, as a Duplex in
  // front of the socket (a proxy, a transform) may pass on.
  const neighbour = Buffer.allocUnsafe(9);
  neighbour.write("neighbour");
  const payload = new Uint8Array(3000).map((_, i) => i & 0xff);
  const frame = encodeClientFrame(Opcode.binary, payload);
  const duplex = new PassThrough();
  const reader = new FrameReader(new NodeSocketConnection(duplex, true), {
    role: "server",
    messageLimit: 1024 * 1024,
  });
  for (const part of [frame.subarray(0, 2000), frame.subarray(2000)]) {
    const chunk = Buffer.allocUnsafe(part.byteLength);
    assert.notEqual(chunk.byteLength, chunk.buffer.byteLength, "a pool slice");
    chunk.set(part);
    duplex.write(chunk);
  }
  assert.deepEqual(await reader.next(), { type: "message", message: payload });
  assert.equal(neighbour.toString(), "neighbour");
  assert.equal(Buffer.allocUnsafe(9).byteLength, 9);
  duplex.destroy();
});
