/**
 * The CLI's `--compress` on both ends, as a user runs it: a `--listen --echo
 * --compress` server and a `--compress` client agree on permessage-deflate
 * and echo through it; without the flag on either end nothing is agreed; and
 * `--transport websocket` refuses it.
 */

import assert from "node:assert/strict";
import { DenoProcess, runDeno } from "./_subprocess.ts";

const CLI = ["run", "-A", "cli.ts"];
const LISTENING = /listening on ws:\/\/127\.0\.0\.1:(\d+)\//;

/** Lines of JSON long enough to be compressed. */
const INPUT = Array.from(
  { length: 5 },
  (_, i) => JSON.stringify({ i, text: "compress me ".repeat(200) }),
).join("\n") + "\n";

Deno.test("CMP-01 CLI: --compress on both ends agrees on permessage-deflate; on one end alone, nothing is agreed", async () => {
  for (
    const [serverFlags, clientFlags, agreed] of [
      [["--compress"], ["--compress"], true],
      [["--compress"], [], false],
      [[], ["--compress"], false],
    ] as const
  ) {
    await using server = new DenoProcess([
      ...CLI,
      "--listen",
      "0",
      "--echo",
      ...serverFlags,
    ]);
    const [, port] = await server.waitForStderr(LISTENING);
    const result = await runDeno(
      [...CLI, `ws://127.0.0.1:${port}/`, "-v", ...clientFlags],
      INPUT,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.text, INPUT);
    assert.match(
      result.stderr,
      agreed ? /extensions "permessage-deflate"/ : /extensions ""/,
    );
    server.kill("SIGINT");
    await server.finished();
  }
});

Deno.test("CLI: --compress with --transport websocket is a usage error", async () => {
  const result = await runDeno([
    ...CLI,
    "ws://127.0.0.1:9/",
    "--transport",
    "websocket",
    "--compress",
  ]);
  assert.equal(result.code, 2);
  assert.match(
    result.stderr,
    /Cannot parse --compress: the runtime's WebSocket \(--transport websocket\) cannot compress/,
  );
});
