/**
 * The tool's line mode on plain chunks of stdin: where lines split, and the
 * longest line it holds.
 *
 * @module
 */

import assert from "node:assert/strict";
import { linesToMessages } from "../cli/framing.ts";

const encoder = new TextEncoder();

/** The messages line mode makes of `chunks`, or the error it stops with. */
async function lines(chunks: (string | Uint8Array)[]): Promise<string[]> {
  const { writable, readable } = linesToMessages();
  const input = ReadableStream.from(
    chunks.map((chunk) =>
      typeof chunk === "string" ? encoder.encode(chunk) : chunk
    ),
  );
  const [messages] = await Promise.all([
    Array.fromAsync(readable),
    input.pipeTo(writable),
  ]);
  return messages;
}

Deno.test("CLI line mode splits at \\n and \\r\\n, across chunks, and sends a last line without a newline", async () => {
  assert.deepEqual(
    await lines(["a\nb", "c\r", "\nd\n\n", "e", "f"]),
    ["a", "bc", "d", "", "ef"],
  );
  assert.deepEqual(await lines(["one\n"]), ["one"]);
  assert.deepEqual(await lines([]), []);
});

Deno.test("CLI line mode decodes a character split across chunks", async () => {
  const snowman = encoder.encode("☃\n");
  assert.deepEqual(
    await lines([snowman.subarray(0, 1), snowman.subarray(1)]),
    ["☃"],
  );
});

Deno.test("CLI line mode holds up to 16 MiB characters of a line while waiting for its newline, and refuses more", async () => {
  const chunk = "x".repeat(64 * 1024);
  const whole = Array.from({ length: 256 }, () => chunk);
  const [line] = await lines([...whole, "\n"]);
  assert.equal(line!.length, 16 * 1024 * 1024);
  await assert.rejects(lines([...whole, "y", "\n"]), {
    name: "RangeError",
    message:
      "a line is longer than 16777216 characters; use --binary for data that is not lines",
  });
});

Deno.test("CLI line mode refuses stdin that is not UTF-8, rather than sending U+FFFD in its place", async () => {
  const error = {
    name: "TypeError",
    message: "not UTF-8 text; use --binary for data that is not lines",
  };
  await assert.rejects(
    lines(["ok\n", new Uint8Array([0xff, 0xfe, 0x0a])]),
    error,
  );
  // A character cut short by the end of the input.
  const snowman = encoder.encode("☃");
  await assert.rejects(lines(["ok\n", snowman.subarray(0, 2)]), error);
});
