/**
 * The published front page and the release notes: the README stays a front
 * page, every link in it resolves on jsr.io (where only the published files
 * exist), and the changelog's newest version is the one `deno.json` publishes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { upgradeWebSocketStream } from "../mod.ts";
import { runDeno } from "./_subprocess.ts";

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

/** The files whose JSDoc jsr.io renders: the entry points and what they use. */
async function publishedSources(dir = ROOT): Promise<string[]> {
  const paths: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    const path = url.pathname.slice(ROOT.pathname.length);
    if (entry.isDirectory && ["src", "cli"].includes(path.split("/")[0]!)) {
      paths.push(...await publishedSources(url));
    } else if (entry.isFile && path.endsWith(".ts") && isPublished(path)) {
      paths.push(path);
    }
  }
  return paths;
}

/** A `console.log(...); // what it prints` line of an example. */
const CLAIM = /^(\s*)console\.log\((.*)\);\s*\/\/\s*(.+)$/;

/** The `ts` examples of a file's JSDoc that say what a line prints. */
function examplesWithClaims(source: string): string[] {
  return [...source.matchAll(/^\s*\* ```ts\n([\s\S]*?)^\s*\* ```$/gm)]
    .map(([, body]) =>
      body!.split("\n").map((line) => line.replace(/^\s*\* ?/, "")).join("\n")
    )
    .filter((code) => code.split("\n").some((line) => CLAIM.test(line)));
}

Deno.test("JSDoc examples print what their comments say they print", async () => {
  // The examples' server: echoes, and selects the first subprotocol offered.
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const { response, stream } = upgradeWebSocketStream(request, {
        protocol: (offered) => offered[0],
      });
      stream?.opened.then(({ readable, writable }) => readable.pipeTo(writable))
        .catch(() => {});
      return response;
    },
  );
  const host = `127.0.0.1:${server.addr.port}`;
  let claims = 0;
  try {
    for (const path of await publishedSources()) {
      const source = await Deno.readTextFile(new URL(path, ROOT));
      for (const example of examplesWithClaims(source)) {
        const lines = example.replaceAll("localhost:8080", host).split("\n")
          .map((line) => {
            const [, indent, args, printed] = CLAIM.exec(line) ?? [];
            return printed === undefined
              ? line
              : `${indent}claim(${JSON.stringify(printed)}, ${args});`;
          });
        const expected = lines.filter((line) => /^\s*claim\(/.test(line));
        const result = await runDeno(
          ["run", "--allow-net=127.0.0.1", "-"],
          [
            "const claim = (said: string, ...values: unknown[]) =>",
            "  console.log('claim', JSON.stringify([said, values.map((value) =>",
            '    typeof value === "string" ? value : Deno.inspect(value)',
            '  ).join(" ")]));',
            ...lines,
            // Its end: a connection an example leaves open does not hold it.
            "Deno.exit();",
          ].join("\n"),
        );
        assert.equal(result.code, 0, `${path}:\n${example}\n${result.stderr}`);
        const outcomes = result.text.split("\n")
          .filter((line) => line.startsWith("claim "))
          .map((line) => JSON.parse(line.slice(6)) as [string, string]);
        assert.equal(outcomes.length, expected.length, `${path}:\n${example}`);
        // Quotes and spaces aside, as a comment writes a value.
        const plain = (text: string) => text.replace(/["'\s]/g, "");
        for (const [said, printed] of outcomes) {
          assert.equal(
            plain(printed),
            plain(said),
            `${path}: the example says it prints ${said}, it printed ${printed}:\n${example}`,
          );
          claims++;
        }
      }
    }
  } finally {
    await server.shutdown();
  }
  assert.ok(claims >= 10, `only ${claims} claims checked`);
});
