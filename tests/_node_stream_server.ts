/**
 * A `node:http` server whose `upgrade` handler is `handleUpgrade`, the code
 * under test in the node server path, with the upgraded streams handed to
 * the test in arrival order: the same shape as `startStreamServer`.
 *
 * @module
 */

import { createServer } from "node:http";
import type { Socket } from "node:net";
import { handleUpgrade, type HandleUpgradeOptions } from "../node.ts";
import { type StreamServer, upgradedStreams } from "./_stream_server.ts";

/**
 * Serves `handleUpgrade(request, socket, head, options)` on an ephemeral
 * loopback port; plain requests get `200 ok`.
 */
export async function startNodeStreamServer(
  options: HandleUpgradeOptions = {},
): Promise<StreamServer> {
  const upgraded = upgradedStreams();
  const errors: unknown[] = [];
  const statuses: number[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((_request, response) => {
    statuses.push(200);
    response.end("ok\n");
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("upgrade", (request, socket: Socket, head) => {
    // The status of a refusal, which handleUpgrade writes to the socket.
    const end = socket.end.bind(socket);
    socket.end = ((chunk: Uint8Array) => {
      const head = new TextDecoder().decode(chunk.subarray(0, 12));
      statuses.push(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0));
      return end(chunk);
    }) as typeof socket.end;
    let stream;
    try {
      stream = handleUpgrade(request, socket, head, options);
    } catch (error) {
      errors.push(error);
      socket.end(
        new TextEncoder().encode("HTTP/1.1 500 Internal Server Error\r\n\r\n"),
      );
      return;
    }
    if (stream === undefined) return;
    statuses.push(101);
    upgraded.push(stream);
  });
  const listening = Promise.withResolvers<void>();
  server.listen(0, "127.0.0.1", () => listening.resolve());
  await listening.promise;
  const { port } = server.address() as { port: number };
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    close,
    [Symbol.asyncDispose]: close,
    errors,
    statuses,
    accept: upgraded.accept,
  };
}
