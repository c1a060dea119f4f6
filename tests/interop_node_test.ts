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
const PACED_SERVER = new URL("./peers/node_paced_server.mjs", import.meta.url);
const node = findPeer("node");

/**
 * Runs `script` in Node with our bundled `entry` (mod.ts by default) as its
 * first argument, then `args`, and returns what it printed last.
 */
async function runWithOurBundle(
  nodeCommand: string,
  script: URL,
  args: string[],
  entry = "mod.ts",
): Promise<unknown> {
  const dir = await Deno.makeTempDir({ prefix: "node_interop_" });
  try {
    const bundle = join(dir, "bundle.mjs");
    await Deno.writeTextFile(bundle, await bundleModule(entry));
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

peerTest(
  node,
  `SRV-01 BP-01 handleUpgrade in Node (${NODE_PACKAGE}, bundled node.ts): a handler that does not read pauses a client sending 64 MiB through TCP, then gets every message in order`,
  async (nodeCommand) => {
    const outcome = await runWithOurBundle(
      nodeCommand,
      PACED_SERVER,
      [],
      "node.ts",
    ) as {
      bytesSent: number;
      bytesReadWhileNotReading: number;
      answer: string;
      client: { code: number; wasClean: boolean };
      server: unknown;
    };
    // Unpaused, the server would have read about all of it in that second.
    assert.ok(
      outcome.bytesReadWhileNotReading < outcome.bytesSent / 16,
      `read ${outcome.bytesReadWhileNotReading} of ${outcome.bytesSent} bytes`,
    );
    assert.equal(outcome.answer, "received 1024, in order: true");
    assert.deepEqual(outcome.client, { code: 1000, wasClean: true });
    assert.deepEqual(outcome.server, { closeCode: 1000, reason: "done" });
  },
);
