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
import {
  closePayload,
  Opcode,
  RawConnection,
  startRawServer,
} from "./_raw_server.ts";
import { rawHandshake } from "./_raw_client.ts";
import { concat, MiB } from "./_bytes.ts";
import { delay } from "./_assert.ts";
import { DenoProcess, runDeno } from "./_subprocess.ts";

const CLI = ["run", "-A", "cli.ts"];
const LISTENING = /listening on ws:\/\/127\.0\.0\.1:(\d+)\//;
const STACK_FRAME = /^\s+at /m;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

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

/** A `ws` client, retried while the server is still starting (bounded). */
async function connectWhenListening(url: string): Promise<WsClient> {
  for (let attempt = 1;; attempt++) {
    const client = new WsClient(url);
    try {
      await new Promise((resolve, reject) => {
        client.on("open", resolve);
        client.on("error", reject);
      });
      return client;
    } catch (error) {
      if (attempt === 100) throw error;
      await delay(100);
    }
  }
}

async function listeningUrl(child: DenoProcess): Promise<string> {
  const [, port] = await child.waitForStderr(LISTENING);
  return `ws://127.0.0.1:${port}/`;
}

/**
 * The tool serving `--listen 0` in this process on the given stdin and
 * stdout: its exit status, the URL it listens on (rejected, with what it
 * printed, if it returns first), what it printed on stderr, and the
 * controller whose abort stops it.
 */
function listenInProcess(
  args: string[],
  io: Pick<Parameters<typeof main>[1], "stdin" | "stdout">,
) {
  let stderr = "";
  const listening = Promise.withResolvers<string>();
  const stop = new AbortController();
  const status = main(["--listen", "0", ...args], {
    ...io,
    stderr: (text) => {
      stderr += text;
      const port = LISTENING.exec(stderr)?.[1];
      if (port !== undefined) listening.resolve(`ws://127.0.0.1:${port}/`);
    },
    stderrIsTerminal: false,
    signal: stop.signal,
  });
  const returned = () =>
    listening.reject(new Error(`main returned before listening: ${stderr}`));
  status.then(returned, returned);
  return { status, url: listening.promise, stop, stderr: () => stderr };
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

for (const transport of ["socket", "websocket"]) {
  Deno.test(`CLI --transport ${transport}: --protocol offers every subprotocol in order, -H headers reach the server, and -v shows exactly the headers added`, async () => {
    const { server, seen } = recordingServer(
      () => {},
      (offered) => offered.includes("b") ? "b" : undefined,
    );
    await using _ = server;
    const result = await runCli([
      server.url,
      "--transport",
      transport,
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
    const shown = [...result.stderr.matchAll(/^> ([^:]+): (.*)$/gm)];
    assert.deepEqual(
      shown.map(([, name, value]) => [name!.toLowerCase(), value]),
      [
        ["sec-websocket-protocol", "a, b"],
        ["authorization", "Bearer t0k3n"],
        ["x-trace", "42"],
      ],
    );
    for (const [, name, value] of shown) {
      assert.equal(headers.get(name!), value, `${name} as the server saw it`);
    }
    assert.match(
      result.stderr,
      new RegExp(`^connecting to .+ \\(${transport}\\)$`, "m"),
    );
    assert.match(result.stderr, /connected: subprotocol "b"/);
    assert.match(result.stderr, /^closed: 1000$/m);
  });
}

Deno.test("CLI exits 0 when the server closes cleanly, with stdin still open, and --verbose shows the code and reason", async () => {
  const { server } = recordingServer((socket) => socket.close(4002, "go away"));
  await using _ = server;
  await using child = new DenoProcess([...CLI, server.url, "-v"]);
  const status = await child.status;
  assert.equal(status.code, 0);
  const result = await child.finished();
  assert.match(result.stderr, /^closed: 4002 "go away"$/m);
});

Deno.test("CLI says how the server closed when it closes with a code other than 1000, even without --verbose, and exits 0", async () => {
  const { server } = recordingServer((socket) => {
    // As a server whose limit a message went past.
    socket.onmessage = () => socket.close(4009, "Receive queue limit exceeded");
  });
  await using _ = server;
  for (
    const [flags, expected] of [
      [[], 'closed: 4009 "Receive queue limit exceeded"\n'],
      [["--quiet"], ""],
    ] as const
  ) {
    const result = await runDeno([...CLI, server.url, ...flags], "too long\n");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, expected);
  }
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

Deno.test("CLI exits 3 with one 'Cannot connect to <url>: <why>' line for an HTTP error, a refused connection and a missing subprotocol", async () => {
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
    assert.match(result.stderr, /^Cannot connect to ws:\/\/\S+: .+\n$/);
    assert.doesNotMatch(result.stderr, /handshake failed/i);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  }
});

const BAD_ARGUMENTS = [
  ["--no-such-option", "ws://127.0.0.1:1/"],
  ["-x", "ws://127.0.0.1:1/"],
  ["--binary=yes", "ws://127.0.0.1:1/"],
  ["ws://127.0.0.1:1/", "--linger"],
  ["--close-code", "999999", "ws://127.0.0.1:1/"],
  ["--transport", "tcp", "ws://127.0.0.1:1/"],
  ["--socket", "ws://127.0.0.1:1/"],
  ["--connect-timeout", "soon", "ws://127.0.0.1:1/"],
  ["-H", "Host: example.com", "ws://127.0.0.1:1/"],
  ["--header", "Sec-WebSocket-Key: x", "ws://127.0.0.1:1/"],
  ["--listen", "0", "--transport", "socket"],
  ["--protocol", "a", "--protocol", "a", "ws://127.0.0.1:1/"],
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
  ["--version", "extra"],
  ["--receive-limit", "0", "ws://127.0.0.1:1/"],
  ["--listen", "0", "--hostname", "[]"],
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
    // One shape for every mistake: what was typed, then why, then the usage
    // line unless --quiet asked for the reason alone.
    assert.match(
      stderr,
      args.includes("--quiet")
        ? /^error: Cannot parse (-\S+|the URL|the arguments): \S.*\n$/
        : /^error: Cannot parse (-\S+|the URL|the arguments): \S.*\nusage: [^\n]+\n$/,
      JSON.stringify(args),
    );
    assert.doesNotMatch(stderr, STACK_FRAME);
    assert.doesNotMatch(stderr, /WebSocketStream/);
  }
});

Deno.test("CLI argument errors name the option as typed and the value received", async () => {
  const cases: [string[], string][] = [
    [
      ["--close-code", "999999", "ws://127.0.0.1:1/"],
      "Cannot parse --close-code: close code must be 1000 or between 3000 and 4999, received 999999",
    ],
    [
      ["--linger", "-1", "ws://127.0.0.1:1/"],
      "Cannot parse --linger: it must be a number of seconds from 0 to 2147483, received -1",
    ],
    [
      ["--no-such-option", "ws://127.0.0.1:1/"],
      "Cannot parse --no-such-option: no such option (see --help)",
    ],
    [
      ["-H", "Host: example.com", "ws://127.0.0.1:1/"],
      'Cannot parse -H: the WebSocket handshake sets Host itself, received "Host: example.com"',
    ],
    [
      ["-H", "Host:x", "ws://127.0.0.1:1/"],
      'Cannot parse -H: the WebSocket handshake sets Host itself, received "Host:x"',
    ],
    [
      ["--receive-limit", "0", "ws://127.0.0.1:1/"],
      "Cannot parse --receive-limit: it must be a byte count of at least 1024 such as 1048576, 512K or 16M, received 0",
    ],
    [
      ["--version", "extra"],
      'Cannot parse --version: it takes no other arguments, received "extra"',
    ],
    [
      ["--listen", "0", "ws://127.0.0.1:1/"],
      'Cannot parse --listen: it takes no URL, received "ws://127.0.0.1:1/"',
    ],
    [
      ["--listen", "0", "--echo", "-u"],
      "Cannot parse -u: it cannot be used with --echo, which sends back what it receives",
    ],
    [
      ["-u", "--linger", "2", "ws://127.0.0.1:1/"],
      "Cannot parse --linger: it cannot be used with -u, which leaves stdin unread",
    ],
    [
      ["not a url"],
      'Cannot parse the URL: invalid URL "not a url"',
    ],
    [
      ["ftp://127.0.0.1/"],
      'Cannot parse the URL: URL scheme must be ws, wss, http or https, received "ftp"',
    ],
  ];
  for (const [args, message] of cases) {
    let stderr = "";
    await main(args, {
      stdin: new ReadableStream({ start: (c) => c.close() }),
      stdout: new WritableStream(),
      stderr: (text) => stderr += text,
      stderrIsTerminal: false,
    });
    assert.equal(stderr.split("\n")[0], `error: ${message}`);
  }
});

Deno.test("CLI -q with bad arguments prints only the reason", async () => {
  let stderr = "";
  const status = await main(["-q", "--frobnicate"], {
    stdin: new ReadableStream({ start: (c) => c.close() }),
    stdout: new WritableStream(),
    stderr: (text) => stderr += text,
    stderrIsTerminal: false,
  });
  assert.equal(status, 2);
  assert.equal(
    stderr,
    "error: Cannot parse --frobnicate: no such option (see --help)\n",
  );
});

Deno.test("CLI bad arguments exit 2 with a usage line as a process", async () => {
  const result = await runCli(["--close-code", "1005", "ws://127.0.0.1:1/"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^error: Cannot parse --close-code: .*\nusage: /);
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
  const server = listenInProcess(["--echo", "--close-code", "1001"], {
    stdin: new ReadableStream({ start: (c) => c.close() }),
    stdout: new WritableStream(),
  });
  try {
    const client = new Probe(await server.url);
    await client.opened;
    server.stop.abort();
    assert.equal((await client.closed).code, 1001);
  } finally {
    server.stop.abort();
    assert.equal(await server.status, 0, server.stderr());
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
      "--transport",
      "--connect-timeout",
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
  assert.ok(!help.text.includes("--socket"), "--help still lists --socket");
  assert.match(
    help.text,
    /Exit status:\n\s+0\s.+\n\s+1\s[\s\S]+\n\s+2\s+bad arguments\n\s+3\s[\s\S]+\n\s+130\s/,
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
  // The one serving is told, not only the client turned away.
  await child.waitForStderr(
    /^127\.0\.0\.1:\d+: refused with 503: Busy: this server pipes one client at a time to stdin and stdout$/m,
  );

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

Deno.test("CLI --transport websocket --receive-limit closes with 4009 and exits 1 when stdout falls behind a fast server", async () => {
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
    [
      ...CLI,
      server.url,
      "--binary",
      "--transport",
      "websocket",
      "--receive-limit",
      "256K",
    ],
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

for (const alias of [[], ["--transport", "socket"]]) {
  Deno.test(`CLI ${alias.join(" ") || "(default transport)"}: a stdout that falls behind slows the server down instead, and everything arrives`, async () => {
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
      [...CLI, server.url, "--binary", ...alias, "--receive-limit", "256K"],
      // Stdout stays blocked for long enough to overflow a runtime WebSocket.
      { readStdoutAfter: delay(500) },
    );
    const result = await child.finished();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.byteLength, 8 * 1024 * 1024);
  });
}

/**
 * A TCP server that accepts connections and never answers: a handshake that
 * does not complete.
 */
function silentServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Deno.Conn[] = [];
  const accepted = Promise.withResolvers<void>();
  const accepting = (async () => {
    for await (const conn of listener) {
      connections.push(conn);
      accepted.resolve();
    }
  })();
  return {
    url: `ws://127.0.0.1:${listener.addr.port}/`,
    accepted: accepted.promise,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const conn of connections) conn.close();
    },
  };
}

for (const transport of ["socket", "websocket"]) {
  Deno.test(`CLI --transport ${transport}: a handshake that never completes ends after --connect-timeout with exit 3`, async () => {
    await using server = silentServer();
    const result = await runCli([
      server.url,
      "--transport",
      transport,
      "--connect-timeout",
      "0.5",
      "-q",
    ]);
    assert.equal(result.code, 3, result.stderr);
    assert.equal(
      result.stderr,
      `Cannot connect to ${server.url}: no answer within 0.5 s (--connect-timeout)\n`,
    );
  });

  Deno.test(`CLI --transport ${transport}: Ctrl-C during the handshake exits 130 and says "interrupted"`, async () => {
    await using server = silentServer();
    await using child = new DenoProcess([
      ...CLI,
      server.url,
      "--transport",
      transport,
    ]);
    await server.accepted;
    child.kill("SIGINT");
    const result = await child.finished();
    assert.equal(result.code, 130, result.stderr);
    assert.equal(result.stderr, "interrupted\n");
  });
}

Deno.test("CLI --listen with stdin already at its end and no client stops with exit 0", async () => {
  const result = await runCli(["--listen", "0"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, LISTENING);
});

Deno.test("CLI -u leaves stdin unread: with stdin at its end the client prints what arrives until the server closes", async () => {
  const { server, seen } = recordingServer((socket) => {
    // Later than the default --linger, which would have closed by then.
    setTimeout(() => {
      socket.send("late");
      socket.close(1000, "done");
    }, 1500);
  });
  await using _ = server;
  const result = await runCli(["-u", "-v", server.url], "never sent\n");
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.text, "late\n");
  assert.match(result.stderr, /^closed: 1000 "done"$/m);
  assert.deepEqual((await seen).messages, []);
});

Deno.test("CLI --listen --receive-only with stdin at its end pipes clients to stdout one at a time until interrupted", async () => {
  await using child = new DenoProcess([
    ...CLI,
    "--listen",
    "0",
    "--receive-only",
  ]);
  await child.closeStdin();
  const url = await listeningUrl(child);
  for (const message of ["first", "second"]) {
    const client = new Probe(url);
    await client.opened;
    const turnedAway = new Probe(url);
    await assert.rejects(turnedAway.opened);
    client.socket.send(message);
    await child.waitForStdout(new RegExp(`${message}\\n$`));
    client.socket.close(1000);
    assert.equal((await client.closed).code, 1000);
  }
  child.kill("SIGINT");
  const result = await child.finished();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.text, "first\nsecond\n");
  // Stdin is left unread: the refusal must not say it is piped.
  assert.match(
    result.stderr,
    /: refused with 503: Busy: this server pipes one client at a time to stdout\n/,
  );
});

Deno.test("CLI --listen keeps stdin that ended before any client for the next client, and stops once it is sent", async () => {
  await using child = new DenoProcess([...CLI, "--listen", "0", "-v"]);
  await child.write("kept\n");
  await child.closeStdin();
  const url = await listeningUrl(child);
  // The server must still be there once stdin has been read.
  await child.waitForStderr(/stdin has input waiting for the next client/);
  const client = new Probe(url);
  await client.opened;
  assert.equal(await client.next(), "kept");
  assert.equal((await client.closed).code, 1000);
  const result = await child.finished();
  assert.equal(result.code, 0, result.stderr);
});

Deno.test("CLI --listen stopped before all of stdin was sent exits 1 and says so", async () => {
  await using child = new DenoProcess([...CLI, "--listen", "0", "-v"]);
  await child.write("never sent\n");
  await child.closeStdin();
  // No client ever comes.
  await child.waitForStderr(/stdin has input waiting for the next client/);
  child.kill("SIGINT");
  const result = await child.finished();
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /\nstopped before all of stdin was sent\n$/);
});

/**
 * A `--listen` server with `big` and then "last" on stdin, and a raw client
 * that has seen the first byte of `big`'s frame and reads nothing more yet:
 * `big` is more than loopback TCP and the write high-water mark hold, so its
 * write is in progress, waiting for the client, and "last" is not yet taken.
 */
async function listenWithWriteWaiting() {
  const child = new DenoProcess([...CLI, "--listen", "0"]);
  const [, port] = await child.waitForStderr(LISTENING);
  const client = await rawHandshake(Number(port));
  const big = "b".repeat(12 * MiB);
  await child.write(`${big}\nlast\n`);
  await child.closeStdin();
  const start = new Uint8Array(1);
  assert.equal(await client.connection.conn.read(start), 1);
  /** Reads the text messages that follow, up to the server's Close frame. */
  const readUntilClose = async () => {
    const rest = new RawConnection(client.connection.conn, "", start);
    const messages: string[] = [];
    let frame = await rest.readFrame();
    while (frame?.opcode === Opcode.text) {
      messages.push(decoder.decode(frame.payload));
      frame = await rest.readFrame();
    }
    assert.equal(frame?.opcode, Opcode.close);
    return { messages, closePayload: frame!.payload };
  };
  return { child, client, big, readUntilClose };
}

Deno.test("CLI --listen stopped while a write waits for its client does not lose the line it reads next: exit 1, not all sent", async () => {
  const { child, client, big, readUntilClose } = await listenWithWriteWaiting();
  await using _child = child;
  using _client = client;
  // Our Close goes after `big`; "last" is read once `big` is written.
  child.kill("SIGINT");
  const { messages, closePayload } = await readUntilClose();
  await client.writeFrame(Opcode.close, closePayload);
  const result = await child.finished();
  assert.deepEqual(messages.map((message) => message.length), [big.length]);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /\nstopped before all of stdin was sent\n$/);
});

Deno.test("CLI --listen whose client closes while a write waits exits 1 and says a message was still being sent", async () => {
  const { child, client, big, readUntilClose } = await listenWithWriteWaiting();
  await using _child = child;
  using _client = client;
  // The library drops what it had not written and ends uncleanly: the tool
  // stops there, rather than go on to a next client with a gap in stdin.
  await client.writeFrame(Opcode.close, closePayload(1000));
  const { messages } = await readUntilClose();
  assert.ok(messages.every((message) => message === big));
  const result = await child.finished();
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stderr,
    /: closed uncleanly: 1000: .*while a message was still being sent/,
  );
});

Deno.test("CLI --listen exits 1 when its client drops without a Close, and -q still prints why", async () => {
  // -q hides the address, so the port is chosen here.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  await using child = new DenoProcess([...CLI, "--listen", `${port}`, "-q"]);
  const client = await connectWhenListening(`ws://127.0.0.1:${port}/`);
  client.send("partial");
  await child.waitForStdout(/^partial\n$/);
  const closed = new Promise((resolve) => client.on("close", resolve));
  client.terminate();
  await closed;
  const status = await child.status;
  assert.equal(status.code, 1);
  const result = await child.finished();
  assert.match(result.stderr, /^127\.0\.0\.1:\d+: closed uncleanly: 1006\b/m);
  assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
});

/** Bytes that repeat nowhere, so a lost or reordered chunk changes the digest. */
function pseudoRandomBytes(length: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let state = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    // xorshift32
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[i] = state;
  }
  return new Uint8Array(words.buffer, 0, length);
}

async function sha256(bytes: Uint8Array): Promise<string> {
  // Every array here is backed by a plain ArrayBuffer.
  const digest = await crypto.subtle.digest(
    "SHA-256",
    bytes as Uint8Array<ArrayBuffer>,
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

Deno.test("CLI --binary round trip through --listen --echo, with the client's stdout blocked for 2 s: 96 MiB come back whole and in order", async () => {
  const input = pseudoRandomBytes(96 * MiB);
  await using server = new DenoProcess([...CLI, "--listen", "0", "--echo"]);
  const url = await listeningUrl(server);
  // The echo server has to slow the client's sending down meanwhile.
  await using client = new DenoProcess([...CLI, url, "--binary", "-q"], {
    readStdoutAfter: delay(2000),
  });
  await client.write(input);
  const result = await client.finished();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.byteLength, input.byteLength);
  assert.equal(await sha256(result.stdout), await sha256(input));
  server.kill("SIGINT");
  assert.equal((await server.finished()).code, 0);
});

Deno.test("CLI --listen whose stdout is blocked for 3 s receives all of a 64 MiB upload", async () => {
  const input = pseudoRandomBytes(64 * MiB);
  const connected = Promise.withResolvers<void>();
  await using server = new DenoProcess(
    [...CLI, "--listen", "0", "--binary", "-v"],
    { readStdoutAfter: connected.promise.then(() => delay(3000)) },
  );
  const url = await listeningUrl(server);
  await using client = new DenoProcess([...CLI, url, "--binary", "-q"]);
  await server.waitForStderr(/: connected to /);
  connected.resolve();
  await client.write(input);
  const sent = await client.finished();
  assert.equal(sent.code, 0, sent.stderr);
  // The client has closed cleanly; the end of stdin stops the server.
  const result = await server.finished();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.byteLength, input.byteLength);
  assert.equal(await sha256(result.stdout), await sha256(input));
});

/** Whether this machine can listen on IPv6 loopback. */
function ipv6LoopbackWorks(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

const IPV6 = ipv6LoopbackWorks();

for (const hostname of ["::1", "[::1]"]) {
  Deno.test({
    name: `CLI --listen --echo --hostname ${hostname} serves on IPv6 loopback${
      IPV6 ? "" : " (ignored: this machine cannot listen on ::1)"
    }`,
    ignore: !IPV6,
    async fn() {
      await using child = new DenoProcess([
        ...CLI,
        "--listen",
        "0",
        "--echo",
        "--hostname",
        hostname,
      ]);
      const [, port] = await child.waitForStderr(
        /listening on ws:\/\/\[::1\]:(\d+)\//,
      );
      const client = new Probe(`ws://[::1]:${port}/`);
      await client.opened;
      client.socket.send("over IPv6");
      assert.equal(await client.next(), "over IPv6");
      client.socket.close(1000);
      await client.closed;
      child.kill("SIGINT");
      const result = await child.finished();
      assert.equal(result.code, 0, result.stderr);
    },
  });
}

Deno.test("CLI --listen answers a plain HTTP request with 426 Upgrade Required", async () => {
  await using child = new DenoProcess([...CLI, "--listen", "0", "--echo"]);
  const url = await listeningUrl(child);
  const response = await fetch(url.replace(/^ws/, "http"));
  assert.equal(response.status, 426);
  assert.equal(response.headers.get("upgrade"), "websocket");
  assert.match(await response.text(), /WebSocket server/);
  child.kill("SIGINT");
  assert.equal((await child.finished()).code, 0);
});

Deno.test("CLI reaches src/ only through src/internal.ts", async () => {
  const files = ["cli.ts"];
  for await (const entry of Deno.readDir(new URL("../cli/", import.meta.url))) {
    if (entry.name.endsWith(".ts")) files.push(`cli/${entry.name}`);
  }
  const fromSrc: string[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(
      new URL(`../${file}`, import.meta.url),
    );
    for (const [, source] of text.matchAll(/from\s+"([^"]+)"/g)) {
      if (source!.includes("/src/")) fromSrc.push(`${file}: ${source}`);
    }
  }
  assert.ok(fromSrc.length > 0, "no import from src/ was found at all");
  assert.deepEqual(
    fromSrc.filter((line) => !line.endsWith(": ../src/internal.ts")),
    [],
  );
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

Deno.test("CLI a failure of stdin or stdout reads Cannot <do what>: <why>, exit 1", async () => {
  const { server } = recordingServer((socket) => socket.send("hello"));
  await using _ = server;
  const run = async (
    io: Pick<Parameters<typeof main>[1], "stdin" | "stdout">,
  ) => {
    let stderr = "";
    const status = await main([server.url, "--linger", "0.3"], {
      ...io,
      stderr: (text) => stderr += text,
      stderrIsTerminal: false,
    });
    return { status, stderr };
  };
  const badStdin = await run({
    stdin: ReadableStream.from([new Uint8Array([0xff, 0x0a])]),
    stdout: new WritableStream(),
  });
  assert.equal(badStdin.status, 1, badStdin.stderr);
  assert.match(
    badStdin.stderr,
    /^Cannot read stdin: not UTF-8 text; use --binary for data that is not lines$/m,
  );
  const badStdout = await run({
    stdin: new ReadableStream(),
    stdout: new WritableStream({
      write() {
        throw new Error("disk full");
      },
    }),
  });
  assert.equal(badStdout.status, 1, badStdout.stderr);
  assert.match(badStdout.stderr, /^Cannot write to stdout: disk full$/m);
});

Deno.test("CLI a failure of stdin or stdout tells the peer in the close: 1011 from a server", async () => {
  const failingStdout = () =>
    new WritableStream<Uint8Array>({
      write() {
        throw new Error("disk full");
      },
    });
  const connect = async (
    io: Pick<Parameters<typeof main>[1], "stdin" | "stdout">,
  ) => {
    const { server, seen } = recordingServer((socket) => socket.send("hi"));
    await using _ = server;
    const status = await main([server.url, "--close-code", "4000"], {
      ...io,
      stderr: () => {},
      stderrIsTerminal: false,
    });
    assert.equal(status, 1);
    return await (await seen).closed;
  };
  // The peer must not take the close for the end of a complete exchange;
  // a client may not send 1011, so it keeps its code.
  assert.deepEqual(
    await connect({
      stdin: ReadableStream.from([new Uint8Array([0xff, 0x0a])]),
      stdout: new WritableStream(),
    }),
    { code: 4000, reason: "Cannot read stdin" },
  );
  assert.deepEqual(
    await connect({ stdin: new ReadableStream(), stdout: failingStdout() }),
    { code: 4000, reason: "Cannot write to stdout" },
  );

  const server = listenInProcess(["-u"], {
    stdin: new ReadableStream(),
    stdout: failingStdout(),
  });
  const probe = new Probe(await server.url);
  await probe.opened;
  probe.socket.send("hi");
  assert.deepEqual(await probe.closed, {
    code: 1011,
    reason: "Cannot write to stdout",
  });
  assert.equal(await server.status, 1);
});

Deno.test("CLI --listen 0 -q still prints the address, the only way to learn the port", async () => {
  const server = listenInProcess(["-q", "-u"], {
    stdin: new ReadableStream(),
    stdout: new WritableStream(),
  });
  // Without the line there is nothing to connect to: stop rather than hang.
  const giveUp = setTimeout(() => server.stop.abort(), 10_000);
  const url = await server.url.finally(() => clearTimeout(giveUp));
  const probe = new Probe(url);
  await probe.opened;
  server.stop.abort();
  assert.equal((await probe.closed).code, 1000);
  assert.equal(await server.status, 0);
  assert.match(
    server.stderr(),
    /^listening on ws:\/\/127\.0\.0\.1:\d+\/\n$/,
  );
});
