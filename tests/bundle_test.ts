/**
 * The entries meant for browsers bundle into scripts that import no `node:`
 * module, which a page could not load.
 */

import assert from "node:assert/strict";

for (const entry of ["mod.ts", "hub.ts"]) {
  Deno.test(`SRF-06 ${entry} bundles for browsers without a node: import`, async () => {
    const { stdout, stderr, success } = await new Deno.Command(
      Deno.execPath(),
      {
        args: [
          "bundle",
          "--quiet",
          new URL(`../${entry}`, import.meta.url).pathname,
        ],
        env: { NO_COLOR: "1" },
      },
    ).output();
    const decoder = new TextDecoder();
    assert.ok(success, decoder.decode(stderr));
    const imports = decoder.decode(stdout).match(
      /(?:from\s*|import\s*\(?\s*)["']node:[^"']+["']/g,
    );
    assert.deepEqual(imports, null);
  });
}
