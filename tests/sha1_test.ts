import assert from "node:assert/strict";
import { sha1 } from "../src/socket/sha1.ts";
import { acceptFor } from "../src/socket/client_handshake.ts";

Deno.test("sha1: matches crypto.subtle at every length across three blocks", async () => {
  const bytes = crypto.getRandomValues(new Uint8Array(200));
  for (let length = 0; length <= bytes.length; length++) {
    const input = bytes.subarray(0, length);
    const expected = new Uint8Array(
      await crypto.subtle.digest("SHA-1", input),
    );
    assert.deepEqual(sha1(input), expected, `length ${length}`);
  }
});

Deno.test("sha1: the accept value of RFC 6455's example key", () => {
  assert.equal(
    acceptFor("dGhlIHNhbXBsZSBub25jZQ=="),
    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
  );
});
