// Runs in Node: our bundled mod.ts (argv[2]) connects to a URL nobody listens
// on (argv[3]) and prints how `opened` and `closed` settled as one JSON line,
// or that they had not within a few seconds. Started by
// tests/interop_node_test.ts.

import { pathToFileURL } from "node:url";

const [bundle, url] = process.argv.slice(2);
const { WebSocketStream } = await import(pathToFileURL(bundle).href);

/** How a promise settled, or "pending" if it had not within the wait. */
async function outcome(promise) {
  let timer;
  const waited = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ settled: "pending" }), 5_000);
  });
  try {
    return await Promise.race([
      promise.then(
        () => ({ settled: "resolved" }),
        (error) => ({
          settled: "rejected",
          name: error.name,
          closeCode: error.closeCode,
          message: error.message,
        }),
      ),
      waited,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const wss = new WebSocketStream(url);
const [opened, closed] = await Promise.all([
  outcome(wss.opened),
  outcome(wss.closed),
]);
console.log(JSON.stringify({ opened, closed }));
