/**
 * Micro-benchmarks of the write path's message conversion, which runs once
 * per written chunk. Run with `deno bench bench/micro/`.
 *
 * @module
 */

import { chunkToMessage, messageSize } from "../../src/message.ts";

const text64 = "x".repeat(64);
const text16k = "x".repeat(16 * 1024);
const bytes16k = new Uint8Array(16 * 1024);
const view = new DataView(new ArrayBuffer(16 * 1024));

Deno.bench("chunkToMessage: 64 B string", { group: "text" }, () => {
  chunkToMessage(text64);
});
Deno.bench("chunkToMessage: 16 KiB string", { group: "text" }, () => {
  chunkToMessage(text16k);
});
Deno.bench("chunkToMessage: 16 KiB Uint8Array", { group: "binary" }, () => {
  chunkToMessage(bytes16k);
});
Deno.bench("chunkToMessage: 16 KiB ArrayBuffer", { group: "binary" }, () => {
  chunkToMessage(bytes16k.buffer);
});
Deno.bench("chunkToMessage: 16 KiB DataView", { group: "binary" }, () => {
  chunkToMessage(view);
});
Deno.bench("messageSize: 64 B string", () => {
  messageSize(text64);
});
