/**
 * A real Node process for the interop tests: the pinned Node from npm's
 * `node` package through npx, or the `node` that `_peers.ts` found where
 * there is no npx, running a peer script whose last line of output is JSON.
 *
 * @module
 */

import { isNpx } from "./_peers.ts";

/** The Node the tests run through npx. */
export const NODE_PACKAGE = "node@22.23.3";
/** A first run downloads Node, which CI must allow for; so may a stuck test. */
const NODE_TIMEOUT_MS = 120_000;

/**
 * The Node to run: the pinned one, where npx put it (downloading it on first
 * use), or `found` itself where it is not npx.
 */
export async function nodePath(found: string): Promise<string> {
  if (!isNpx(found)) return found;
  const { code, stdout, stderr } = await new Deno.Command(found, {
    args: ["-y", NODE_PACKAGE, "-p", "process.execPath"],
    stdin: "null",
    signal: AbortSignal.timeout(NODE_TIMEOUT_MS),
  }).output();
  const decoder = new TextDecoder();
  if (code !== 0) {
    throw new Error(
      `npx could not run ${NODE_PACKAGE} (exit ${code}): ${
        decoder.decode(stderr)
      }`,
    );
  }
  return decoder.decode(stdout).trim();
}

/**
 * Runs `script` with `args` in the Node for `found` and parses the last line
 * it printed; fails if Node exits with an error or takes longer than the
 * timeout.
 */
export async function runNodeScript(
  found: string,
  script: URL,
  args: string[],
): Promise<unknown> {
  // The timeout must stop Node itself, which npx would leave running.
  const { code, stdout, stderr } = await new Deno.Command(
    await nodePath(found),
    {
      args: [script.pathname, ...args],
      stdin: "null",
      signal: AbortSignal.timeout(NODE_TIMEOUT_MS),
    },
  ).output();
  const decoder = new TextDecoder();
  if (code !== 0) {
    throw new Error(`Node exited with ${code}: ${decoder.decode(stderr)}`);
  }
  return JSON.parse(decoder.decode(stdout).trim().split("\n").at(-1)!);
}

/**
 * Installs the npm package `spec` (e.g. `ws@8.23.0`) into `dir` with the npm
 * beside `found`, for a script in Node to import from `dir/node_modules`.
 */
export async function npmInstall(
  found: string,
  dir: string,
  spec: string,
): Promise<void> {
  const npm = found.replace(/(npx|node)(\.cmd|\.exe)?$/, "npm$2");
  const { code, stderr } = await new Deno.Command(npm, {
    args: ["install", "--prefix", dir, "--no-audit", "--no-fund", spec],
    stdin: "null",
    stdout: "null",
    signal: AbortSignal.timeout(NODE_TIMEOUT_MS),
  }).output();
  if (code !== 0) {
    throw new Error(
      `npm could not install ${spec} (exit ${code}): ${
        new TextDecoder().decode(stderr)
      }`,
    );
  }
}
