/**
 * The TLS echo check both server paths' wss tests run: the socket-transport
 * client of `peers/tls_client.ts` in its own process, trusting the test CA
 * (or not), and what it must report.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runDeno } from "./_subprocess.ts";

/** The test certificate and key, for a server on `localhost`. */
export async function readTestCertificate(): Promise<
  { cert: string; key: string }
> {
  const tls = new URL("./fixtures/tls/", import.meta.url);
  return {
    cert: await Deno.readTextFile(new URL("cert.pem", tls)),
    key: await Deno.readTextFile(new URL("key.pem", tls)),
  };
}

/**
 * Runs the TLS client against `url`, trusting the test CA when `trusted`,
 * and returns what it printed.
 */
export async function runTlsClient(
  url: string,
  trusted: boolean,
): Promise<Record<string, unknown>> {
  const result = await runDeno([
    "run",
    "--allow-net",
    ...(trusted ? ["--cert=tests/fixtures/tls/ca.pem"] : []),
    "tests/peers/tls_client.ts",
    url,
  ]);
  if (trusted) assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.text);
}

/** Asserts that a trusted client's echo through TLS went through whole. */
export async function assertTlsEcho(url: string): Promise<void> {
  assert.deepEqual(await runTlsClient(url, true), {
    text: "over TLS",
    binaryBytes: 1024 * 1024,
    binaryIntact: true,
    closed: { closeCode: 4000, reason: "done" },
  });
}
