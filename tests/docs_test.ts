/**
 * The published front page and the release notes: the README stays a front
 * page, every link in it resolves on jsr.io (where only the published files
 * exist), and the changelog's newest version is the one `deno.json` publishes.
 *
 * @module
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
/** The canonical repository; links to unpublished files go through it. */
const REPOSITORY = "https://github.com/streams-dev/websocket";
const README_MAX_BYTES = 15_000;

const readme = await Deno.readTextFile(new URL("README.md", ROOT));
const config = JSON.parse(
  await Deno.readTextFile(new URL("deno.json", ROOT)),
) as { version: string; publish: { include: string[]; exclude: string[] } };

/** `publish.include` globs (`*`, `**`) as regular expressions. */
const published = config.publish.include.map((glob) =>
  new RegExp(
    `^${
      glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("**/", "\0")
        .replaceAll("*", "[^/]*").replaceAll("\0", "(?:.*/)?")
    }$`,
  )
);

/** Whether `deno publish` uploads `path` (relative to the root). */
function isPublished(path: string): boolean {
  return published.some((glob) => glob.test(path)) &&
    !config.publish.exclude.some((prefix) => path.startsWith(prefix));
}

/** Every Markdown link and image target in `text`. */
function linkTargets(text: string): string[] {
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map(([, target]) => target!);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(new URL(path, ROOT));
    return true;
  } catch {
    return false;
  }
}

Deno.test("README is a front page of at most 15 KB", () => {
  const bytes = new TextEncoder().encode(readme).byteLength;
  assert.ok(
    bytes <= README_MAX_BYTES,
    `README.md is ${bytes} bytes, over ${README_MAX_BYTES}: move details to docs/`,
  );
});

Deno.test("README links resolve on jsr.io: relative ones only to published files, repository ones to files that exist", async () => {
  const targets = linkTargets(readme);
  assert.ok(targets.length > 0);
  for (const target of targets) {
    if (target.startsWith("#")) continue;
    const inRepository = new RegExp(
      `^(?:${REPOSITORY}/(?:blob|tree)/main/|${
        REPOSITORY.replace("github.com", "raw.githubusercontent.com")
      }/main/)(.+)$`,
    ).exec(target.split("#")[0]!);
    if (inRepository !== null) {
      assert.ok(await exists(inRepository[1]!), `${target}: no such file`);
      continue;
    }
    if (/^[a-z]+:/.test(target)) continue;
    const path = target.split("#")[0]!.replace(/^\.\//, "");
    assert.ok(await exists(path), `${target}: no such file`);
    assert.ok(
      isPublished(path),
      `${target} is not published to jsr.io: link it as ${REPOSITORY}/blob/main/${path}`,
    );
  }
});

Deno.test("CHANGELOG's newest version is the version in deno.json", async () => {
  const changelog = await Deno.readTextFile(new URL("CHANGELOG.md", ROOT));
  const newest = /^## \[(\d+\.\d+\.\d+[^\]]*)\]/m.exec(changelog)?.[1];
  assert.equal(
    newest,
    config.version,
    `CHANGELOG.md's newest heading names ${newest}, deno.json has ${config.version}: keep them equal`,
  );
});
