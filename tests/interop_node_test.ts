/**
 * Interop with Node, which has a `WebSocket` (since 22) but no
 * `WebSocketStream`: our bundled mod.ts runs the scenarios of
 * `peers/scenarios.mjs` in Node against our server. Node comes from npm's
 * `node` package through npx, pinned here; without npx, the `node` that
 * `_peers.ts` finds runs instead.
 *
 * @module
 */

import { join } from "node:path";
import {
  assertScenarios,
  bundleModule,
  startInteropServer,
} from "./_interop_server.ts";
import { findPeer, isNpx, peerTest } from "./_peers.ts";

const NODE_PACKAGE = "node@22.23.3";
const CLIENT = new URL("./peers/node_client.mjs", import.meta.url);
/** A first run downloads Node, which CI must allow for; so may a stuck test. */
const NODE_TIMEOUT_MS = 120_000;

/**
 * The Node to run: the pinned one, where npx put it (downloading it on first
 * use), or the one found where there is no npx.
 */
async function nodePath(found: string): Promise<string> {
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

peerTest(
  findPeer("node"),
  `our WebSocketStream in Node (${NODE_PACKAGE}, bundled mod.ts): the same scenarios pass against our server`,
  async (found) => {
    await using server = await startInteropServer();
    const dir = await Deno.makeTempDir({ prefix: "node_interop_" });
    try {
      const bundle = join(dir, "mod.mjs");
      await Deno.writeTextFile(bundle, await bundleModule());
      // The timeout must stop Node itself, which npx would leave running.
      const { code, stdout, stderr } = await new Deno.Command(
        await nodePath(found),
        {
          args: [CLIENT.pathname, bundle, `${server.url}/ws`],
          stdin: "null",
          signal: AbortSignal.timeout(NODE_TIMEOUT_MS),
        },
      ).output();
      const decoder = new TextDecoder();
      if (code !== 0) {
        throw new Error(`Node exited with ${code}: ${decoder.decode(stderr)}`);
      }
      const lines = decoder.decode(stdout).trim().split("\n");
      await assertScenarios(server, JSON.parse(lines.at(-1)!), {
        name: "node",
        impl: "ours",
        echoesReason: false,
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
