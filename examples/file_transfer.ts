/**
 * Streaming a file up and down with `pipeTo`: the file's readable becomes
 * binary messages, the messages become a file's writable, and closing the
 * connection marks the end. Backpressure keeps memory flat whatever the
 * file's size: the upload reads the disk only as fast as the socket drains.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read --allow-write examples/file_transfer.ts
 * ```
 *
 * @module
 */

import { upgradeWebSocketStream, WebSocketStream } from "../mod.ts";

/** Passes binary messages on as bytes; a text message is an error. */
export function binaryOnly(): TransformStream<string | Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(message, controller) {
      if (typeof message === "string") {
        throw new TypeError("Expected binary file data, received text");
      }
      controller.enqueue(message);
    },
  });
}

/**
 * Serves one file slot: `/upload` stores what a client sends in `path`,
 * `/download` sends `path` back once the upload is complete.
 */
export function startFileServer(
  path: string,
): { url: string; close(): Promise<void> } {
  let uploaded = Promise.resolve();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const { pathname } = new URL(request.url);
      const { response, stream } = upgradeWebSocketStream(request);
      if (stream === undefined) return response;
      if (pathname === "/upload") {
        uploaded = (async () => {
          const { readable } = await stream.opened;
          const file = await Deno.open(path, {
            write: true,
            create: true,
            truncate: true,
          });
          // Ends when the client closes the connection.
          await readable.pipeThrough(binaryOnly()).pipeTo(file.writable);
        })();
        // The download reports a failed upload; this marks it as observed.
        uploaded.catch(() => {});
      } else {
        (async () => {
          const { writable } = await stream.opened;
          await uploaded;
          const file = await Deno.open(path);
          // Closing the writable at the end of the file closes the
          // connection.
          await file.readable.pipeTo(writable);
        })().catch(() => {
          // The client went away.
        });
      }
      return response;
    },
  );
  return {
    url: `ws://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

/** Sends the file at `path` to `url`. */
export async function upload(url: string, path: string): Promise<void> {
  const wss = new WebSocketStream(url);
  const { writable } = await wss.opened;
  const file = await Deno.open(path);
  // pipeTo closes the writable at the end, which closes the connection and
  // resolves once the server has answered the Close.
  await file.readable.pipeTo(writable);
}

/** Receives a file from `url` into `path`. */
export async function download(url: string, path: string): Promise<void> {
  const wss = new WebSocketStream(url);
  const { readable } = await wss.opened;
  const file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  await readable.pipeThrough(binaryOnly()).pipeTo(file.writable);
}

/** The SHA-256 of a file, as hex. */
export async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    await Deno.readFile(path),
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

if (import.meta.main) {
  const dir = await Deno.makeTempDir();
  try {
    const original = `${dir}/original.bin`;
    const data = new Uint8Array(8 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 65536) {
      crypto.getRandomValues(data.subarray(i, i + 65536));
    }
    await Deno.writeFile(original, data);
    const server = startFileServer(`${dir}/stored.bin`);
    try {
      await upload(`${server.url}/upload`, original);
      await download(`${server.url}/download`, `${dir}/copy.bin`);
    } finally {
      await server.close();
    }
    const [sent, received] = await Promise.all([
      sha256(original),
      sha256(`${dir}/copy.bin`),
    ]);
    console.log(`uploaded and downloaded ${data.byteLength} bytes`);
    console.log(`sha256 sent     ${sent}`);
    console.log(`sha256 received ${received}`);
    console.log(sent === received ? "identical" : "DIFFERENT");
    if (sent !== received) Deno.exitCode = 1;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
