/**
 * The client in a page, in every browser: where the browser has no
 * `WebSocketStream` (Firefox, Safari), the page imports this package's,
 * bundled for the browser; where it has one (Chrome), it uses its own.
 *
 * This script bundles the package once at start (in a project of your own:
 * `deno bundle --platform=browser jsr:@streams/websocket -o
 * websocket_stream.js`), serves `index.html`, `app.js` and the bundle, and
 * echoes on `/ws`, printing what each page sent and how it closed.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read --allow-run examples/browser/serve.ts [port]
 * ```
 *
 * Then open the address it prints; stop it with Ctrl-C.
 *
 * @module
 */

import { upgradeWebSocketStream, type WebSocketStream } from "../../mod.ts";

const HERE = new URL("./", import.meta.url);

/** This package as one ES module a browser can import. */
async function bundleForBrowser(): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform=browser",
      new URL("../../mod.ts", HERE).pathname,
    ],
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  if (!success) {
    throw new Error(`Cannot bundle the module: ${decoder.decode(stderr)}`);
  }
  return decoder.decode(stdout);
}

/** Echoes every message back and prints the texts and the close. */
async function echo(stream: WebSocketStream): Promise<void> {
  const { readable, writable } = await stream.opened;
  const printed = new TransformStream({
    transform(message, controller) {
      if (typeof message === "string") console.log(`page: ${message}`);
      controller.enqueue(message);
    },
  });
  // When the page closes, the writable errors and the pipe with it: `closed`
  // says how it ended.
  readable.pipeThrough(printed).pipeTo(writable).catch(() => {});
  const { closeCode, reason } = await stream.closed;
  console.log(`page closed cleanly: ${closeCode} "${reason}"`);
}

const files: Record<string, [string, string]> = {
  "/": [await Deno.readTextFile(new URL("index.html", HERE)), "text/html"],
  "/app.js": [
    await Deno.readTextFile(new URL("app.js", HERE)),
    "text/javascript",
  ],
  "/websocket_stream.js": [await bundleForBrowser(), "text/javascript"],
};

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.args[0] ?? 8000),
  onListen: ({ port }) => console.log(`Open http://127.0.0.1:${port}/`),
}, (request) => {
  const path = new URL(request.url).pathname;
  if (path === "/ws") {
    const { response, stream } = upgradeWebSocketStream(request);
    if (stream) echo(stream).catch((error) => console.log(`page: ${error}`));
    return response;
  }
  const file = files[path];
  if (file === undefined) return new Response("Not found", { status: 404 });
  const [body, type] = file;
  return new Response(body, {
    headers: { "content-type": `${type}; charset=utf-8` },
  });
});
