/**
 * Every example and the demo, run as a user runs them (a `deno` child
 * process with the permissions their docs give), and checked by what they
 * print and how they exit.
 *
 * @module
 */

import assert from "node:assert/strict";
import deployHandler from "../examples/deploy_handler.ts";
import { WebSocketStream } from "../mod.ts";
import { DenoProcess, runDeno } from "./_subprocess.ts";

const NET = "--allow-net=127.0.0.1";

Deno.test("example demo: `deno task demo` shows the writer held back at the link's pace, loses nothing and closes cleanly", async () => {
  const result = await runDeno(["task", "demo"]);
  assert.equal(result.code, 0, result.stderr);
  const figures = result.text.match(/^\s*\d+\.\d s {2}sent .+$/gm) ?? [];
  assert.ok(figures.length >= 5, result.text);
  // The writer waits most of the time: the producer is paced by the link.
  const waited = figures.map((line) =>
    Number(/waited\s+(\d+)%/.exec(line)![1])
  );
  assert.ok(waited.at(-1)! > 50, result.text);
  const [, received, sent] =
    /server received (\d+) of (\d+) messages, then the close: 1000 "demo finished"/
      .exec(result.text) ?? [];
  assert.ok(sent !== undefined, result.text);
  assert.equal(received, sent);
  assert.match(result.text, /^client closed cleanly: 1000 "demo finished"$/m);
});

Deno.test("example client_echo: text and binary come back from the local echo server", async () => {
  const result = await runDeno(["run", NET, "examples/client_echo.ts"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.text, "text: hello\nbinary: 3 bytes [1, 2, 3]\n");
});

Deno.test("example json_messages: objects go through TransformStreams both ways", async () => {
  const result = await runDeno(["run", NET, "examples/json_messages.ts"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.text,
    '{"n":2,"square":4}\n{"n":3,"square":9}\n{"n":12,"square":144}\n',
  );
});

Deno.test("example slow_reader: the default transport overflows with 4009, the socket transport paces the server and gets all 32 MiB", async () => {
  const result = await runDeno(["run", NET, "examples/slow_reader.ts"]);
  assert.equal(result.code, 0, result.stderr);
  const [websocket = "", socket = ""] = result.text.trim().split("\n");
  assert.match(
    websocket,
    /^websocket: received [\d.]+ MiB, then 4009 "Receive queue limit exceeded" \([\d.]+ s\)$/,
  );
  assert.match(
    socket,
    /^socket: received 32 MiB, closed cleanly: 1000 "all sent" \([\d.]+ s\)$/,
  );
});

Deno.test("example file_transfer: an 8 MiB file goes up and comes down identical", async () => {
  const result = await runDeno([
    "run",
    NET,
    "--allow-read",
    "--allow-write",
    "examples/file_transfer.ts",
  ]);
  assert.equal(result.code, 0, result.stderr);
  const [, sent] = /sha256 sent\s+([0-9a-f]{64})/.exec(result.text) ?? [];
  const [, received] = /sha256 received\s+([0-9a-f]{64})/.exec(result.text) ??
    [];
  assert.ok(sent !== undefined, result.text);
  assert.equal(received, sent);
  assert.match(result.text, /^identical$/m);
});

Deno.test("example deploy_handler: `deno serve` echoes WebSocket messages and answers plain HTTP", async () => {
  await using child = new DenoProcess([
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    NET,
    "examples/deploy_handler.ts",
  ]);
  const [, port] = await child.waitForStderr(
    /Listening on http:\/\/127\.0\.0\.1:(\d+)\//,
  );
  const page = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /Connect with a WebSocket client/);

  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  const reply = Promise.withResolvers<unknown>();
  const closed = Promise.withResolvers<void>();
  socket.onopen = () => socket.send("hi");
  socket.onmessage = ({ data }) => reply.resolve(data);
  socket.onerror = () => reply.reject(new Error("WebSocket failed"));
  socket.onclose = () => closed.resolve();
  assert.equal(await reply.promise, "echo: hi");
  socket.close(1000);
  await closed.promise;
  child.kill("SIGTERM");
  await child.finished();
});

Deno.test("example deploy_handler: a cross-origin upgrade gets 403, a plain request 200", async () => {
  const forbidden = deployHandler.fetch(
    new Request("http://localhost:8000/", {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        origin: "https://evil.example",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
      },
    }),
  );
  assert.equal(forbidden.status, 403);
  await forbidden.body?.cancel();
  const plain = deployHandler.fetch(new Request("http://localhost:8000/"));
  assert.equal(plain.status, 200);
  await plain.body?.cancel();
});

Deno.test("example echo_server: a port that is not one is refused on one line, exit 2", async () => {
  const result = await runDeno([
    "run",
    "--allow-net",
    "--allow-env",
    "examples/echo_server.ts",
    "--port",
  ]);
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    'Cannot start the echo server: the port must be a number from 0 to 65535, received "--port"\n',
  );
});

Deno.test("example node_server: a page and a WebSocket on one node:http port, then a clean close and the end", async () => {
  const result = await runDeno(["run", NET, "examples/node_server.ts"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.text,
    'GET / -> 200 Hello over plain HTTP\nsent "hello", heard "HELLO"\nsent "one port for both", heard "ONE PORT FOR BOTH"\nclosed cleanly: 1000 "done"\n',
  );
});

Deno.test("example echo_server: run as the README says, it takes its port from PORT and echoes", async () => {
  await using child = new DenoProcess(
    ["run", "--allow-net", "--allow-env", "examples/echo_server.ts"],
    { env: { PORT: "0" } },
  );
  const [, port] = await child.waitForStdout(
    /^Echo server on ws:\/\/127\.0\.0\.1:(\d+)\/$/m,
  );
  const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`);
  const { readable, writable } = await wss.opened;
  await writable.getWriter().write("echo?");
  const { value } = await readable.getReader().read();
  assert.equal(value, "echo?");
  wss.close({ closeCode: 1000, reason: "thanks" });
  assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "thanks" });
  child.kill("SIGTERM");
  await child.finished();
});
