/**
 * The command line tool, run as a user runs it: a `deno run` child process
 * talking to peers built on Deno's own `WebSocket`, so the library is only on
 * the tool's side. One test runs {@linkcode main} in-process.
 *
 * @module
 */

import assert from "node:assert/strict";
import { WebSocket as WsClient } from "ws";
import { main } from "../cli.ts";
import { serve } from "./_wpt_server.ts";
import { startRawServer } from "./_raw_server.ts";
import { concat } from "./_bytes.ts";
import { delay } from "./_assert.ts";
import { DenoProcess, runDeno } from "./_subprocess.ts";

const CLI = ["run", "-A", "cli.ts"];
const LISTENING = /listening on ws:\/\/127\.0\.0\.1:(\d+)\//;
const STACK_FRAME = /^\s+at /m;
const encoder = new TextEncoder();

function runCli(args: string[], stdin?: string | Uint8Array) {
  return runDeno([...CLI, ...args], stdin);
}

/** What a server-side peer saw of one connection. */
interface Seen {
  headers: Headers;
  messages: (string | Uint8Array)[];
  closed: Promise<{ code: number; reason: string }>;
}

/**
 * A server on Deno's own `Deno.upgradeWebSocket` that records the first
 * connection; `onOpen` scripts what it does.
 */
function recordingServer(
  onOpen: (socket: WebSocket) => void = () => {},
  selectProtocol?: (offered: string[]) => string | undefined,
) {
  const seen = Promise.withResolvers<Seen>();
  const server = serve((request) => {
    const offered = (request.headers.get("sec-websocket-protocol") ?? "")
      .split(",").map((p) => p.trim()).filter((p) => p !== "");
    const protocol = selectProtocol?.(offered);
    // Deno empties the request once it is upgraded.
    const headers = new Headers(request.headers);
    const { socket, response } = Deno.upgradeWebSocket(
      request,
      protocol === undefined ? {} : { protocol },
    );
    socket.binaryType = "arraybuffer";
    const messages: (string | Uint8Array)[] = [];
    const closed = Promise.withResolvers<{ code: number; reason: string }>();
    socket.onmessage = ({ data }) =>
      messages.push(typeof data === "string" ? data : new Uint8Array(data));
    socket.onclose = ({ code, reason }) => closed.resolve({ code, reason });
    socket.onopen = () => onOpen(socket);
    seen.resolve({ headers, messages, closed: closed.promise });
    return response;
  });
  return { server, seen: seen.promise };
}

/** A client on Deno's own `WebSocket`, with its messages queued. */
class Probe {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #messages: (string | Uint8Array)[] = [];
  #arrived: () => void = () => {};

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.binaryType = "arraybuffer";
    const opened = Promise.withResolvers<void>();
    const closed = Promise.withResolvers<{ code: number; reason: string }>();
    this.opened = opened.promise;
    this.closed = closed.promise;
    this.opened.catch(() => {});
    this.socket.onopen = () => opened.resolve();
    this.socket.onerror = () => opened.reject(new Error("handshake failed"));
    this.socket.onmessage = ({ data }) => {
      this.#messages.push(
        typeof data === "string" ? data : new Uint8Array(data),
      );
      this.#arrived();
    };
    this.socket.onclose = ({ code, reason }) => {
      opened.reject(new Error("closed before opening"));
      closed.resolve({ code, reason });
    };
  }

  async next(): Promise<string | Uint8Array> {
    while (this.#messages.length === 0) {
      await new Promise<void>((resolve) => this.#arrived = resolve);
    }
    return this.#messages.shift()!;
  }
}

async function listeningUrl(child: DenoProcess): Promise<string> {
  const [, port] = await child.waitForStderr(LISTENING);
  return `ws://127.0.0.1:${port}/`;
}

Deno.test("CLI connect sends stdin lines as text messages, prints received messages, and closes with --close-code and --close-reason", async () => {
  const { server, seen } = recordingServer((socket) => {
    socket.send("welcome");
    socket.send(new Uint8Array([0xff, 0x00, 0x0a]));
  });
  await using _ = server;
  const result = await runCli(
    [server.url, "--close-code", "4001", "--close-reason", "done"],
    "one\ntwo\r\n\nthree",
  );
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(
    result.stdout,
    concat([encoder.encode("welcome\n"), new Uint8Array([0xff, 0x00, 0x0a])]),
  );
  const connection = await seen;
  assert.deepEqual(connection.messages, ["one", "two", "", "three"]);
  assert.deepEqual(await connection.closed, { code: 4001, reason: "done" });
  assert.equal(result.stderr, "");
});

Deno.test("CLI --protocol offers every subprotocol in order and -H headers reach the server", async () => {
  const { server, seen } = recordingServer(
    () => {},
    (offered) => offered.includes("b") ? "b" : undefined,
  );
  await using _ = server;
  const result = await runCli([
    server.url,
    "--protocol",
    "a",
    "--protocol",
    "b",
    "-H",
    "Authorization: Bearer t0k3n",
    "--header",
    "X-Trace: 42",
    "--verbose",
    "--linger",
    "0",
  ]);
  assert.equal(result.code, 0, result.stderr);
  const { headers } = await seen;
  assert.equal(headers.get("sec-websocket-protocol"), "a, b");
  assert.equal(headers.get("authorization"), "Bearer t0k3n");
  assert.equal(headers.get("x-trace"), "42");
  assert.match(result.stderr, /connected: subprotocol "b"/);
  assert.match(result.stderr, /^closed: 1000$/m);
});

Deno.test("CLI exits 0 when the server closes cleanly, with stdin still open, and --verbose shows the code and reason", async () => {
  const { server } = recordingServer((socket) => socket.close(4002, "go away"));
  await using _ = server;
  await using child = new DenoProcess([...CLI, server.url, "-v"]);
  const status = await child.status;
  assert.equal(status.code, 0);
  const result = await child.finished();
  assert.match(result.stderr, /^closed: 4002 "go away"$/m);
});

Deno.test("CLI exits 1 with 'closed uncleanly: 1006' when the connection drops without a Close frame", async () => {
  await using server = startRawServer(async () => {});
  await using child = new DenoProcess([...CLI, server.url]);
  const result = await child.finished();
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^closed uncleanly: 1006: /m);
  assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  assert.doesNotMatch(result.stderr, STACK_FRAME);
});

Deno.test("CLI exits 3 with 'handshake failed' for an HTTP error, a refused connection and a missing subprotocol", async () => {
  const refused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const refusedUrl = `ws://127.0.0.1:${refused.addr.port}/`;
  refused.close();
  await using server = serve((request) =>
    new URL(request.url).pathname === "/404"
      ? new Response("Not Found", { status: 404 })
      : Deno.upgradeWebSocket(request).response
  );
  for (
    const args of [
      [`${server.url}/404`],
      [refusedUrl],
      [server.url, "--protocol", "chat"],
    ]
  ) {
    const result = await runCli(args);
    assert.equal(result.code, 3, `${args}: ${result.stderr}`);
    assert.match(result.stderr, /^handshake failed: .+\n$/);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  }
});

const BAD_ARGUMENTS = [
  ["--no-such-option", "ws://127.0.0.1:1/"],
  [],
  ["ftp://127.0.0.1/"],
  ["not a url"],
  ["ws://127.0.0.1:1/#fragment"],
  ["ws://127.0.0.1:1/", "ws://127.0.0.1:2/"],
  ["-H", "no colon", "ws://127.0.0.1:1/"],
  ["-H", "Bad Name: x", "ws://127.0.0.1:1/"],
  ["--close-code", "1005", "ws://127.0.0.1:1/"],
  ["--close-code", "1001", "ws://127.0.0.1:1/"],
  ["--close-code", "abc", "ws://127.0.0.1:1/"],
  ["--close-reason", "x".repeat(124), "ws://127.0.0.1:1/"],
  ["--echo", "ws://127.0.0.1:1/"],
  ["--ping-interval", "1", "ws://127.0.0.1:1/"],
  ["--receive-limit", "lots", "ws://127.0.0.1:1/"],
  ["--linger", "-1", "ws://127.0.0.1:1/"],
  ["--quiet", "--verbose", "ws://127.0.0.1:1/"],
  ["--protocol", "a b", "ws://127.0.0.1:1/"],
  ["--listen", "70000"],
  ["--listen", "0", "ws://127.0.0.1:1/"],
  ["--listen", "0", "-H", "X: y"],
];

Deno.test("CLI bad arguments exit 2 with an error and a usage line, never a stack trace (in-process)", async () => {
  for (const args of BAD_ARGUMENTS) {
    let stderr = "";
    const status = await main(args, {
      stdin: new ReadableStream({ start: (c) => c.close() }),
      stdout: new WritableStream(),
      stderr: (text) => stderr += text,
      stderrIsTerminal: false,
    });
    assert.equal(status, 2, `${JSON.stringify(args)}: ${stderr}`);
    assert.match(stderr, /^error: .+\nusage: /, JSON.stringify(args));
    assert.doesNotMatch(stderr, STACK_FRAME);
  }
});

Deno.test("CLI bad arguments exit 2 with a usage line as a process", async () => {
  const result = await runCli(["--close-code", "1005", "ws://127.0.0.1:1/"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^error: invalid --close-code.*\nusage: /);
  assert.doesNotMatch(result.stderr, STACK_FRAME);
  assert.equal(result.text, "");
});

Deno.test("CLI a missing network permission exits 1 with Deno's error, not a usage line, in both modes", async () => {
  for (const args of [["ws://127.0.0.1:1/"], ["--listen", "0"]]) {
    const result = await runDeno(["run", "--no-prompt", "cli.ts", ...args]);
    assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, /Requires net access/, args.join(" "));
    assert.doesNotMatch(result.stderr, /usage: /);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  }
});

Deno.test("CLI --listen closes its client with a server-only --close-code such as 1001 when stopped (in-process)", async () => {
  let stderr = "";
  const listening = Promise.withResolvers<string>();
  const stop = new AbortController();
  const running = main(["--listen", "0", "--echo", "--close-code", "1001"], {
    stdin: new ReadableStream({ start: (c) => c.close() }),
    stdout: new WritableStream(),
    stderr: (text) => {
      stderr += text;
      const port = LISTENING.exec(stderr)?.[1];
      if (port !== undefined) listening.resolve(`ws://127.0.0.1:${port}/`);
    },
    stderrIsTerminal: false,
    signal: stop.signal,
  });
  try {
    const url = await Promise.race([
      listening.promise,
      running.then((status) => {
        throw new Error(`main returned ${status} before listening: ${stderr}`);
      }),
    ]);
    const client = new Probe(url);
    await client.opened;
    stop.abort();
    assert.equal((await client.closed).code, 1001);
  } finally {
    stop.abort();
    assert.equal(await running, 0, stderr);
  }
});

Deno.test("CLI --help documents the options and exit statuses; --version prints deno.json's version", async () => {
  const help = await runCli(["--help"]);
  assert.equal(help.code, 0);
  for (
    const option of [
      "--listen",
      "--echo",
      "--binary",
      "--protocol",
      "--header",
      "--close-code",
      "--close-reason",
      "--ping-interval",
      "--receive-limit",
      "--quiet",
      "--verbose",
      "--version",
    ]
  ) {
    assert.ok(help.text.includes(option), `--help lacks ${option}`);
  }
  assert.match(
    help.text,
    /Exit status:\n\s+0\s.+\n\s+1\s[\s\S]+\n\s+2\s+bad arguments\n\s+3\s/,
  );
  const { default: config } = await import("../deno.json", {
    with: { type: "json" },
  });
  const version = await runCli(["-V"]);
  assert.equal(version.code, 0);
  assert.equal(version.text, `${config.name} ${config.version}\n`);
});

Deno.test("CLI --binary sends stdin as binary messages and prints every message raw", async () => {
  const { server, seen } = recordingServer((socket) => {
    socket.send("text");
    socket.send(new Uint8Array([1, 2, 3]));
  });
  await using _ = server;
  const input = new Uint8Array(300_000).map((_, i) => (i * 7919) % 256);
  const result = await runCli([server.url, "--binary"], input);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(
    result.stdout,
    concat([encoder.encode("text"), new Uint8Array([1, 2, 3])]),
  );
  const { messages } = await seen;
  assert.ok(messages.every((message) => message instanceof Uint8Array));
  assert.deepEqual(concat(messages as Uint8Array[]), input);
});

Deno.test("CLI --listen pipes one client to stdout and stdin to it, refuses a second one, and closes with the chosen code when stdin ends", async () => {
  await using child = new DenoProcess([
    ...CLI,
    "--listen",
    "0",
    "--close-code",
    "4001",
    "--close-reason",
    "bye",
  ]);
  const url = await listeningUrl(child);
  const client = new Probe(url);
  await client.opened;
  client.socket.send("x");
  client.socket.send("y");
  await child.waitForStdout(/^x\ny\n$/);
  await child.write("to-client\n");
  assert.equal(await client.next(), "to-client");

  const second = new Probe(url);
  await assert.rejects(second.opened);
  await second.closed;

  await child.closeStdin();
  assert.deepEqual(await client.closed, { code: 4001, reason: "bye" });
  const result = await child.finished();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.text, "x\ny\n");
});

Deno.test("CLI --listen --echo echoes text and binary to concurrent clients and closes them with --close-code on SIGINT", async () => {
  await using child = new DenoProcess([
    ...CLI,
    "--listen",
    "0",
    "--echo",
    "--close-code",
    "1001",
    "--close-reason",
    "shutting down",
  ]);
  const url = await listeningUrl(child);
  const clients = [new Probe(url), new Probe(url)];
  await Promise.all(clients.map((client) => client.opened));
  for (const [i, client] of clients.entries()) {
    client.socket.send(`hello ${i}`);
    client.socket.send(new Uint8Array([i, 255]));
  }
  for (const [i, client] of clients.entries()) {
    assert.equal(await client.next(), `hello ${i}`);
    assert.deepEqual(await client.next(), new Uint8Array([i, 255]));
  }
  child.kill("SIGINT");
  for (const client of clients) {
    assert.deepEqual(await client.closed, {
      code: 1001,
      reason: "shutting down",
    });
  }
  const result = await child.finished();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.text, "");
});

Deno.test("CLI --ping-interval makes the server ping its clients", async () => {
  await using child = new DenoProcess([
    ...CLI,
    "--listen",
    "0",
    "--echo",
    "--ping-interval",
    "0.5",
  ]);
  const url = await listeningUrl(child);
  const client = new WsClient(url);
  const pinged = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<void>();
  client.on("ping", () => pinged.resolve());
  client.on("close", () => closed.resolve());
  await pinged.promise;
  client.close(1000);
  await closed.promise;
});

Deno.test("CLI --receive-limit closes with 4009 and exits 1 when stdout falls behind a fast server", async () => {
  const serverSawClose = Promise.withResolvers<void>();
  const { server, seen } = recordingServer((socket) => {
    // 8 MiB at once: far more than the 64 KiB a blocked stdout pipe takes.
    for (let i = 0; i < 128; i++) socket.send(new Uint8Array(65536));
  });
  await using _ = server;
  seen.then((connection) =>
    connection.closed.then(() => serverSawClose.resolve())
  );
  await using child = new DenoProcess(
    [...CLI, server.url, "--binary", "--receive-limit", "256K"],
    // Stdout is not read until the tool has given up, so its pipe is full.
    { readStdoutAfter: serverSawClose.promise },
  );
  const result = await child.finished();
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /^closed uncleanly: 4009 "Receive queue limit exceeded": .*262144 bytes/m,
  );
  assert.ok(result.stdout.byteLength < 8 * 1024 * 1024);
});

Deno.test("CLI --socket: a stdout that falls behind slows the server down instead, and everything arrives", async () => {
  const { server } = recordingServer((socket) => {
    // The same 8 MiB at once, then a Close once Deno has written it all.
    for (let i = 0; i < 128; i++) socket.send(new Uint8Array(65536));
    const closeWhenSent = () =>
      socket.bufferedAmount === 0
        ? socket.close(1000, "all sent")
        : setTimeout(closeWhenSent, 10);
    closeWhenSent();
  });
  await using _ = server;
  await using child = new DenoProcess(
    [...CLI, server.url, "--binary", "--socket", "--receive-limit", "256K"],
    // Stdout stays blocked for long enough to overflow without --socket.
    { readStdoutAfter: delay(500) },
  );
  const result = await child.finished();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.byteLength, 8 * 1024 * 1024);
});

Deno.test("CLI main() runs in-process on the streams it is given", async () => {
  const { server, seen } = recordingServer((socket) => {
    socket.addEventListener(
      "message",
      ({ data }) => socket.send(`echo: ${data}`),
    );
  });
  await using _ = server;
  const chunks: Uint8Array[] = [];
  let stderr = "";
  const status = await main([server.url, "--linger", "0.3"], {
    stdin: ReadableStream.from([encoder.encode("ping\n")]),
    stdout: new WritableStream({ write: (chunk) => void chunks.push(chunk) }),
    stderr: (text) => stderr += text,
    stderrIsTerminal: false,
  });
  assert.equal(status, 0, stderr);
  assert.equal(new TextDecoder().decode(concat(chunks)), "echo: ping\n");
  assert.deepEqual((await seen).messages, ["ping"]);
});
