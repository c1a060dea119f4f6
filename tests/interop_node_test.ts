/**
 * Interop with Node, which has a `WebSocket` (since 22) but no
 * `WebSocketStream`: our bundled mod.ts runs the scenarios of
 * `peers/scenarios.mjs` in Node against our server, on each server path.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  assertScenarios,
  bundleModule,
  startInteropServer,
} from "./_interop_server.ts";
import { NODE_PACKAGE, runNodeScript } from "./_node.ts";
import { findPeer, peerPath, peerTest } from "./_peers.ts";
import { serverTest } from "./_server_paths.ts";

const CLIENT = new URL("./peers/node_client.mjs", import.meta.url);
const REFUSED_CLIENT = new URL(
  "./peers/node_refused_client.mjs",
  import.meta.url,
);
const node = findPeer("node");

/**
 * Runs `script` in Node with our bundled mod.ts as its first argument, then
 * `args`, and returns what it printed last.
 */
async function runWithOurBundle(
  nodeCommand: string,
  script: URL,
  args: string[],
): Promise<unknown> {
  const dir = await Deno.makeTempDir({ prefix: "node_interop_" });
  try {
    const bundle = join(dir, "mod.mjs");
    await Deno.writeTextFile(bundle, await bundleModule());
    return await runNodeScript(nodeCommand, script, [bundle, ...args]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

serverTest(
  `INT-02 our WebSocketStream in Node (${NODE_PACKAGE}, bundled mod.ts): the same scenarios pass against our server`,
  async (path) => {
    await using server = await startInteropServer(path);
    const outcome = await runWithOurBundle(peerPath(node), CLIENT, [
      server.urls.echo,
      server.urls.serverClose,
    ]);
    await assertScenarios(server, outcome, {
      name: "node",
      impl: "ours",
      echoesReason: false,
    });
  },
  [node],
);

peerTest(
  node,
  `OPN-04 our WebSocketStream in Node (${NODE_PACKAGE}, bundled mod.ts): a refused connection rejects opened and closed, with Node's cause`,
  async (nodeCommand) => {
    // A port that was free a moment ago: nobody listens on it now.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr;
    listener.close();
    const outcome = await runWithOurBundle(nodeCommand, REFUSED_CLIENT, [
      `ws://127.0.0.1:${port}/`,
    ]);
    // Node's WebSocket fires "error" alone here, with no "close" after it.
    const cause = "Received network error or non-101 status code.";
    assert.deepEqual(outcome, {
      opened: {
        settled: "rejected",
        name: "WebSocketError",
        closeCode: null,
        message: cause,
      },
      closed: {
        settled: "rejected",
        name: "WebSocketError",
        closeCode: 1006,
        message: cause,
      },
    });
  },
);
