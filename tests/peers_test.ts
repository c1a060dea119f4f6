/**
 * `_peers.ts`, as a test run uses it: a `deno test` child whose only test
 * needs Chromium, run with a PATH that holds a stand-in browser or nothing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";

const PEERS = new URL("./_peers.ts", import.meta.url);

interface Run {
  code: number;
  output: string;
}

async function runWith(
  dir: string,
  env: Record<string, string>,
): Promise<Run> {
  const test = join(dir, "needs_chromium_test.ts");
  await Deno.writeTextFile(
    test,
    `import { findPeer, peerTest } from ${JSON.stringify(PEERS.href)};
peerTest(findPeer("chromium"), "needs chromium", (path) => {
  console.log("ran with " + path);
});
`,
  );
  const home = Deno.env.get("HOME");
  const denoDir = Deno.env.get("DENO_DIR");
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--no-config", "--allow-env", "--allow-read", test],
    clearEnv: true,
    env: {
      NO_COLOR: "1",
      ...(home === undefined ? {} : { HOME: home }),
      ...(denoDir === undefined ? {} : { DENO_DIR: denoDir }),
      ...env,
    },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code,
    output: decoder.decode(stdout) + decoder.decode(stderr),
  };
}

async function withBin(
  fn: (dir: string, bin: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "peers_test_" });
  try {
    const bin = join(dir, "bin");
    await Deno.mkdir(bin);
    await fn(dir, bin);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function standIn(path: string): Promise<void> {
  await Deno.writeTextFile(path, "#!/bin/sh\n");
  await Deno.chmod(path, 0o755);
}

Deno.test({
  name:
    "peers: Chromium under another name on PATH, or at CHROMIUM_PATH, is found and its test runs",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withBin(async (dir, bin) => {
      await standIn(join(bin, "google-chrome"));
      const onPath = await runWith(dir, { PATH: bin });
      assert.equal(onPath.code, 0, onPath.output);
      assert.match(onPath.output, /ran with .*\/bin\/google-chrome\n/);

      const elsewhere = join(dir, "my-chromium");
      await standIn(elsewhere);
      const fromEnv = await runWith(dir, {
        PATH: bin,
        CHROMIUM_PATH: elsewhere,
      });
      assert.equal(fromEnv.code, 0, fromEnv.output);
      assert.match(fromEnv.output, /ran with .*\/my-chromium\n/);
    });
  },
});

Deno.test({
  name:
    "peers: a missing Chromium is ignored with its install command, and fails where STREAMS_REQUIRE_PEERS=1",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withBin(async (dir, bin) => {
      // Not executable: found by name, but not a program.
      await Deno.writeTextFile(join(bin, "chromium"), "");
      const skipped = await runWith(dir, { PATH: bin });
      assert.equal(skipped.code, 0, skipped.output);
      assert.match(
        skipped.output,
        /needs chromium \[skipped, no chromium: apt-get install -y chromium\] \.\.\. ignored/,
      );
      assert.doesNotMatch(skipped.output, /ran with/);

      const required = await runWith(dir, {
        PATH: bin,
        STREAMS_REQUIRE_PEERS: "1",
      });
      assert.equal(required.code, 1, required.output);
      assert.match(
        required.output,
        /Cannot run chromium: none found .*install it with "apt-get install -y chromium"/,
      );
      assert.doesNotMatch(required.output, /ran with/);
    });
  },
});
