/**
 * Interop with the npm `ws` client under a real Node process (not Deno's npm
 * compatibility): `peers/ws_node_client.mjs` runs the interop scenarios
 * against our server, on each server path.
 *
 * @module
 */

import { assertScenarios, startInteropServer } from "./_interop_server.ts";
import { NODE_PACKAGE, npmInstall, runNodeScript } from "./_node.ts";
import { findPeer, peerPath } from "./_peers.ts";
import { serverTest } from "./_server_paths.ts";

/** The `ws` that deno.json pins, for Node to load from a folder of its own. */
const WS_PACKAGE = "ws@8.23.0";
const CLIENT = new URL("./peers/ws_node_client.mjs", import.meta.url);
const node = findPeer("node");

serverTest(
  `INT-03 npm ${WS_PACKAGE} under Node (${NODE_PACKAGE}): echo text, binary and 4 MiB, subprotocol and close codes both ways against our server`,
  async (path) => {
    const found = peerPath(node);
    const dir = await Deno.makeTempDir({ prefix: "ws_node_interop_" });
    try {
      await npmInstall(found, dir, WS_PACKAGE);
      await using server = await startInteropServer(path);
      const outcome = await runNodeScript(found, CLIENT, [
        dir,
        server.urls.echo,
        server.urls.serverClose,
      ]);
      await assertScenarios(server, outcome, {
        name: "ws",
        impl: "ws",
        echoesReason: true,
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
  [node],
);
