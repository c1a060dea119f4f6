/**
 * Interop with Node, which has a `WebSocket` (since 22) but no
 * `WebSocketStream`: our bundled mod.ts runs the scenarios of
 * `peers/scenarios.mjs` in Node against our server, on each server path.
 *
 * @module
 */

import { join } from "node:path";
import {
  assertScenarios,
  bundleModule,
  startInteropServer,
} from "./_interop_server.ts";
import { NODE_PACKAGE, runNodeScript } from "./_node.ts";
import { findPeer, peerPath } from "./_peers.ts";
import { serverTest } from "./_server_paths.ts";

const CLIENT = new URL("./peers/node_client.mjs", import.meta.url);
const node = findPeer("node");

serverTest(
  `INT-02 our WebSocketStream in Node (${NODE_PACKAGE}, bundled mod.ts): the same scenarios pass against our server`,
  async (path) => {
    await using server = await startInteropServer(path);
    const dir = await Deno.makeTempDir({ prefix: "node_interop_" });
    try {
      const bundle = join(dir, "mod.mjs");
      await Deno.writeTextFile(bundle, await bundleModule());
      const outcome = await runNodeScript(peerPath(node), CLIENT, [
        bundle,
        server.urls.echo,
        server.urls.serverClose,
      ]);
      await assertScenarios(server, outcome, {
        name: "node",
        impl: "ours",
        echoesReason: false,
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
  [node],
);
