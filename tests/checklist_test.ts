/**
 * Keeps tests/CHECKLIST.md honest: every checklist ID a test name carries is
 * defined there, exactly once. Test names are read from the source (the first
 * string argument of `Deno.test` and of the suite helpers that register one
 * test per transport or server path), so nothing is run to find them.
 */

import assert from "node:assert/strict";

const TESTS = new URL("./", import.meta.url);
const ID = /\b[A-Z]{2,4}-\d{2}\b/g;
/** Calls that register tests, up to the start of their name. */
const REGISTRATION =
  /\b(?:Deno\.test|clientTest|serverTest)\(\s*(?:\{\s*name:\s*)?/g;

/** The IDs the checklist defines (`- **ID** meaning`), each with its count. */
function parseDefinitions(markdown: string): Map<string, number> {
  const definitions = new Map<string, number>();
  for (const [, id] of markdown.matchAll(/^- \*\*([A-Z]{2,4}-\d{2})\*\*/gm)) {
    definitions.set(id!, (definitions.get(id!) ?? 0) + 1);
  }
  return definitions;
}

/**
 * The literal text of each test name registered in `source`; the
 * interpolations of a template literal are left out.
 */
function parseTestNames(source: string): string[] {
  const names: string[] = [];
  for (const match of source.matchAll(REGISTRATION)) {
    const start = match.index + match[0].length;
    const quote = source[start];
    if (quote !== '"' && quote !== "'" && quote !== "`") continue;
    let name = "";
    let depth = 0;
    for (let i = start + 1; i < source.length; i++) {
      const char = source[i];
      if (char === "\\") {
        i++;
        continue;
      }
      if (quote === "`" && char === "$" && source[i + 1] === "{") {
        depth++;
        i++;
        continue;
      }
      if (depth > 0) {
        if (char === "}") depth--;
        continue;
      }
      if (char === quote) break;
      name += char;
    }
    names.push(name);
  }
  return names;
}

/** Every test file and case file under tests/, with its text. */
async function readTestSources(): Promise<Map<string, string>> {
  const sources = new Map<string, string>();
  const walk = async (dir: URL, prefix: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory && !["fixtures", "peers"].includes(entry.name)) {
        await walk(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`);
      } else if (entry.isFile && entry.name.endsWith(".ts")) {
        const path = `${prefix}${entry.name}`;
        sources.set(path, await Deno.readTextFile(new URL(entry.name, dir)));
      }
    }
  };
  await walk(TESTS, "");
  return sources;
}

Deno.test("the test-name reader finds names in every form a test is registered", () => {
  const names = parseTestNames(`
    Deno.test("CLS-01 plain", () => {});
    Deno.test({
      name:
        "CLS-02 in an object",
    });
    for (const x of xs) Deno.test(\`RD-07 \${x} WR-12 "quoted" \\\` \`, f);
    clientTest('OPN-04 a client case', f);
    serverTest("SRV-01 a server case", f);
  `);
  assert.deepEqual(names, [
    "CLS-01 plain",
    "CLS-02 in an object",
    'RD-07  WR-12 "quoted"  ',
    "OPN-04 a client case",
    "SRV-01 a server case",
  ]);
});

Deno.test("every checklist ID in a test name is defined in tests/CHECKLIST.md, once", async () => {
  const definitions = parseDefinitions(
    await Deno.readTextFile(new URL("CHECKLIST.md", TESTS)),
  );
  const repeated = [...definitions].filter(([, count]) => count > 1);
  assert.deepEqual(repeated, [], "IDs defined more than once");

  const undefinedIds: string[] = [];
  let namesWithIds = 0;
  for (const [path, source] of await readTestSources()) {
    for (const name of parseTestNames(source)) {
      const ids = name.match(ID) ?? [];
      if (ids.length > 0) namesWithIds++;
      for (const id of ids) {
        if (!definitions.has(id)) {
          undefinedIds.push(`${id} in ${path}: ${name}`);
        }
      }
    }
  }
  assert.deepEqual(undefinedIds, [], "IDs used but not in CHECKLIST.md");
  // The scan itself must have found the suites' names.
  assert.ok(namesWithIds > 100, `only ${namesWithIds} test names carry IDs`);
});
