// Runs in Node, which has a WebSocket but no WebSocketStream: our bundled
// mod.ts (argv[2]) against the echo and server-close URLs (argv[3], argv[4]), printing what it saw as one
// JSON line. Started by tests/interop_node_test.ts.

import { pathToFileURL } from "node:url";
import { runScenarios } from "./scenarios.mjs";

const [bundle, echo, serverClose] = process.argv.slice(2);
const { WebSocketStream } = await import(pathToFileURL(bundle).href);
try {
  const results = await runScenarios(WebSocketStream, {
    echo,
    serverClose,
  }, "node");
  console.log(JSON.stringify({ ok: true, impl: "ours", results }));
} catch (error) {
  console.log(
    JSON.stringify({ ok: false, error: `${error.name}: ${error.message}` }),
  );
}
