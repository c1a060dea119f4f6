/**
 * A `Deno.serve` server reproducing the web-platform-tests WebSocket handlers
 * the WebSocketStream tests use, written with Deno's own
 * `Deno.upgradeWebSocket` so the peer is independent of the code under test.
 * Handlers that need to break the protocol live on the raw server instead.
 *
 * @module
 */

/** A running test server. */
export interface TestServer extends AsyncDisposable {
  /** `ws://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Stops the server, waiting for it to finish; idempotent. */
  close(): Promise<void>;
}

/**
 * Serves `handler` on an ephemeral loopback port. `close()` aborts
 * `controller`, which a test may also hand to `upgradeWebSocketStream`.
 */
export function serve(
  handler: (request: Request) => Response | Promise<Response>,
  controller: AbortController = new AbortController(),
): TestServer {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: controller.signal,
    onListen() {},
  }, handler);
  const close = () => {
    controller.abort();
    return server.finished;
  };
  return {
    url: `ws://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function offeredProtocols(request: Request): string[] {
  return (request.headers.get("sec-websocket-protocol") ?? "")
    .split(",").map((p) => p.trim()).filter((p) => p !== "");
}

/**
 * The handlers, by path:
 * - `/echo`: echoes text as text, binary as binary; selects `echo` if
 *   offered; echoes `Goodbye` and then closes.
 * - `/protocol_array`: selects the first offered protocol and sends it.
 * - `/remote-close?code=N&reason=R`: closes right after opening (no code:
 *   empty Close frame).
 * - `/handshake_sleep?ms=N`: waits before accepting, then echoes.
 * - `/send-backpressure`: sends an empty message, 16 messages of 1 MiB, then
 *   the seconds all that took, as text.
 * - `/404`: refuses the handshake with 404.
 */
export function startWptServer(): TestServer {
  return serve(async (request) => {
    const url = new URL(request.url);
    const offered = offeredProtocols(request);
    switch (url.pathname) {
      case "/404":
        return new Response("Not Found", { status: 404 });
      case "/handshake_sleep":
        await new Promise((resolve) =>
          setTimeout(resolve, Number(url.searchParams.get("ms") ?? 2000))
        );
        return echoResponse(request, offered);
      case "/echo":
        return echoResponse(request, offered);
      case "/protocol_array": {
        const protocol = offered[0];
        const { socket, response } = Deno.upgradeWebSocket(
          request,
          protocol === undefined ? {} : { protocol },
        );
        socket.onopen = () => socket.send(protocol ?? "");
        return response;
      }
      case "/remote-close": {
        const { socket, response } = Deno.upgradeWebSocket(request);
        const code = url.searchParams.get("code");
        const reason = url.searchParams.get("reason") ?? "";
        socket.onopen = () =>
          code === null ? socket.close() : socket.close(Number(code), reason);
        return response;
      }
      case "/send-backpressure": {
        const { socket, response } = Deno.upgradeWebSocket(request);
        socket.onopen = () => {
          socket.send(new Uint8Array(0));
          const start = performance.now();
          const send = () => {
            for (let i = 0; i < 16; i++) socket.send(new Uint8Array(1 << 20));
            const drained = () => {
              if (socket.readyState !== WebSocket.OPEN) return;
              if (socket.bufferedAmount > 0) {
                setTimeout(drained, 1);
                return;
              }
              socket.send(`${(performance.now() - start) / 1000}`);
            };
            drained();
          };
          send();
        };
        return response;
      }
      default:
        return new Response("Unknown path", { status: 400 });
    }
  });
}

/**
 * Upgrades `request` to a socket that echoes text as text and binary as
 * binary, selecting `echo` if offered; `Goodbye` is echoed, then closed.
 */
export function echoResponse(
  request: Request,
  offered: string[] = [],
): Response {
  const { socket, response } = Deno.upgradeWebSocket(
    request,
    offered.includes("echo") ? { protocol: "echo" } : {},
  );
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => {
    socket.send(event.data);
    if (event.data === "Goodbye") socket.close();
  };
  return response;
}
