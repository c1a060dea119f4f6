/**
 * The constructor and the opening handshake. Cases that connect run over every
 * client transport; the argument checks run once, since they come before a
 * transport is chosen.
 */

import assert from "node:assert/strict";
import { clientTest } from "./_transports.ts";
import { WebSocketError, WebSocketStream } from "../mod.ts";
import { domException, webSocketError } from "./_assert.ts";
import { startRawServer } from "./_raw_server.ts";
import { serve, startWptServer } from "./_wpt_server.ts";

const SYNTAX = domException("SyntaxError");

Deno.test("SRF-02 the prototype has url, opened, closed and close, and nothing of WebSocket", () => {
  const proto = WebSocketStream.prototype;
  for (const getter of ["url", "opened", "closed"]) {
    assert.equal(
      typeof Object.getOwnPropertyDescriptor(proto, getter)?.get,
      "function",
      getter,
    );
  }
  assert.equal(typeof proto.close, "function");
  for (
    const absent of [
      "readyState",
      "send",
      "binaryType",
      "bufferedAmount",
      "onmessage",
      "connection",
    ]
  ) {
    assert.equal(absent in proto, false, absent);
  }
});

clientTest(
  "SRF-03 opened and closed return the same promise each time",
  async (transport) => {
    await using server = startWptServer();
    const wss = transport.connect(`${server.url}/echo`);
    assert.equal(wss.opened, wss.opened);
    assert.equal(wss.closed, wss.closed);
    await wss.opened;
    wss.close();
    await wss.closed;
  },
);

Deno.test("SRF-04 calling WebSocketStream without new is a TypeError", () => {
  const construct = WebSocketStream as unknown as (url: string) => unknown;
  assert.throws(() => construct("ws://127.0.0.1/"), TypeError);
});

Deno.test("SRF-08 the constructor's length is 1: only the URL is required", () => {
  assert.equal(WebSocketStream.length, 1);
});

Deno.test("SRF-10 the members of both interfaces are enumerable and configurable", () => {
  const members: [object, string[]][] = [
    [WebSocketStream.prototype, ["url", "opened", "closed", "close"]],
    [WebSocketError.prototype, ["closeCode", "reason"]],
  ];
  for (const [proto, names] of members) {
    for (const name of names) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      assert.equal(descriptor?.enumerable, true, name);
      assert.equal(descriptor?.configurable, true, name);
    }
  }
  assert.equal(
    Object.getOwnPropertyDescriptor(WebSocketStream.prototype, "constructor")
      ?.enumerable,
    false,
  );
});

Deno.test("SRF-11 close.length is 0: its argument is optional", () => {
  assert.equal(WebSocketStream.prototype.close.length, 0);
});

Deno.test("SRF-12 opened and closed on another object reject instead of throwing", async () => {
  for (const name of ["opened", "closed"]) {
    const getter = Object.getOwnPropertyDescriptor(
      WebSocketStream.prototype,
      name,
    )!.get!;
    for (
      const [self, received] of [
        [{}, "[object Object]"],
        [1, "1"],
        [undefined, "undefined"],
      ] as const
    ) {
      const promise = getter.call(self);
      assert.ok(promise instanceof Promise, `${name} on ${self}`);
      await assert.rejects(promise, {
        name: "TypeError",
        message:
          `Cannot read WebSocketStream.${name}: the object is not a WebSocketStream, received ${received}`,
      });
    }
  }
});

Deno.test("SRF-09 Object.prototype.toString gives [object WebSocketStream], as in browsers", async () => {
  const toString = Object.prototype.toString;
  assert.equal(
    toString.call(WebSocketStream.prototype),
    "[object WebSocketStream]",
  );
  assert.deepEqual(
    Object.getOwnPropertyDescriptor(
      WebSocketStream.prototype,
      Symbol.toStringTag,
    ),
    {
      value: "WebSocketStream",
      writable: false,
      enumerable: false,
      configurable: true,
    },
  );
  // An instance, never connected: its signal is aborted already.
  const wss = new WebSocketStream("ws://127.0.0.1:1/", {
    signal: AbortSignal.abort(),
  });
  assert.equal(toString.call(wss), "[object WebSocketStream]");
  await assert.rejects(wss.opened);
  await assert.rejects(wss.closed);
});

Deno.test("CTR-01 constructing with no URL is a TypeError", () => {
  const Construct = WebSocketStream as unknown as new () => unknown;
  assert.throws(() => new Construct(), TypeError);
});

clientTest(
  "CTR-02 a URL object is accepted through its string form",
  async (transport) => {
    await using server = startWptServer();
    const wss = transport.connect(new URL(`${server.url}/echo`));
    assert.equal(wss.url, `${server.url}/echo`);
    await wss.opened;
    wss.close();
    await wss.closed;
  },
);

Deno.test("CTR-21 each option is read once, over either transport", async () => {
  for (const transport of ["websocket", "socket"]) {
    const reads: Record<string, number> = {};
    const values: Record<string, unknown> = {
      protocols: ["chat"],
      signal: AbortSignal.abort(),
      transport,
      compression: false,
      receiveLimit: 1024,
      writeHighWaterMark: 1024,
      overflowCloseCode: 4009,
      closeTimeout: 1000,
    };
    const options = {};
    for (const [name, value] of Object.entries(values)) {
      Object.defineProperty(options, name, {
        get: () => {
          reads[name] = (reads[name] ?? 0) + 1;
          return value;
        },
      });
    }
    // The aborted signal: no connection is attempted.
    const wss = new WebSocketStream("ws://127.0.0.1:9/", options);
    await wss.closed.catch(() => {});
    for (const name of Object.keys(values)) {
      assert.equal(reads[name], 1, `${name} over ${transport}`);
    }
  }
});

Deno.test("CTR-22 protocols is read and converted before signal", () => {
  const reads: string[] = [];
  const options = {
    get signal() {
      reads.push("signal");
      return AbortSignal.abort();
    },
    get protocols() {
      reads.push("protocols");
      return "chat";
    },
  };
  assert.throws(
    () => new WebSocketStream("ws://127.0.0.1:9/", options as never),
    TypeError,
  );
  assert.deepEqual(reads, ["protocols"]);
});

Deno.test("CTR-03 options that are not an object are a TypeError", () => {
  assert.throws(
    // @ts-expect-error: options must be a dictionary
    () => new WebSocketStream("ws://127.0.0.1:1/", true),
    {
      name: "TypeError",
      message:
        "Cannot construct WebSocketStream: options must be an object, received true",
    },
  );
});

Deno.test("CTR-03 a function is an object, so it is taken as options", async () => {
  const options = Object.assign(() => {}, { signal: AbortSignal.abort("x") });
  const wss = new WebSocketStream("ws://127.0.0.1:9/", options as never);
  await assert.rejects(wss.opened, (reason) => reason === "x");
  await assert.rejects(wss.closed, (reason) => reason === "x");
});

Deno.test("CTR-04 protocols must be a sequence, not a string", () => {
  assert.throws(
    // @ts-expect-error: protocols is a sequence
    () => new WebSocketStream("ws://127.0.0.1:1/", { protocols: "hi" }),
    {
      name: "TypeError",
      message:
        'Cannot construct WebSocketStream: options.protocols must be a sequence of strings, received "hi"',
    },
  );
});

Deno.test("CTR-05 a signal that is not an AbortSignal is a TypeError", () => {
  assert.throws(
    () =>
      new WebSocketStream("ws://127.0.0.1:1/", {
        signal: "stop" as unknown as AbortSignal,
      }),
    {
      name: "TypeError",
      message:
        'Cannot construct WebSocketStream: options.signal must be an AbortSignal, received "stop"',
    },
  );
});

Deno.test("CTR-06 an unparsable or relative URL is a SyntaxError", () => {
  assert.throws(() => new WebSocketStream("ws://[bad"), SYNTAX);
  assert.throws(() => new WebSocketStream("/relative"), SYNTAX);
});

Deno.test("CTR-07 URL-01 http and https become ws and wss, normalised", () => {
  const plain = new WebSocketStream("http://EXAMPLE.invalid:80", {
    signal: AbortSignal.abort(),
  });
  assert.equal(plain.url, "ws://example.invalid/");
  const secure = new WebSocketStream("https://example.invalid:443/a?b", {
    signal: AbortSignal.abort(),
  });
  assert.equal(secure.url, "wss://example.invalid/a?b");
});

Deno.test("CTR-08 other schemes are a SyntaxError", () => {
  for (const url of ["invalid:", "ftp://example.invalid/", "file:///tmp/x"]) {
    assert.throws(() => new WebSocketStream(url), SYNTAX, url);
  }
});

Deno.test("CTR-09 any fragment, even an empty one, is a SyntaxError", () => {
  assert.throws(() => new WebSocketStream("ws://example.invalid/#x"), SYNTAX);
  assert.throws(() => new WebSocketStream("ws://example.invalid/#"), SYNTAX);
});

Deno.test("CTR-10 invalid and repeated subprotocols are a SyntaxError", () => {
  for (
    const protocols of [[""], ["a b"], ["a,b"], ["é"], ["a", "A"], ["x", "x"]]
  ) {
    assert.throws(
      () => new WebSocketStream("ws://127.0.0.1:1/", { protocols }),
      SYNTAX,
      JSON.stringify(protocols),
    );
  }
});

Deno.test("CTR-11 the URL is validated before an aborted signal is looked at", () => {
  assert.throws(
    () => new WebSocketStream("ftp://x/", { signal: AbortSignal.abort() }),
    SYNTAX,
  );
});

clientTest(
  "CTR-12 headers reach the server; invalid headers are a TypeError",
  async (transport) => {
    let seen: string | null = null;
    await using server = serve((request) => {
      seen = request.headers.get("authorization");
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onopen = () => socket.close(1000, "seen");
      return response;
    });
    const wss = transport.connect(server.url, {
      headers: { authorization: "Bearer token" },
    });
    assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "seen" });
    assert.equal(seen, "Bearer token");
    assert.throws(
      () => transport.connect(server.url, { headers: { "bad name": "x" } }),
      {
        name: "TypeError",
        message:
          /^Cannot construct WebSocketStream: options\.headers is invalid: .*bad name/,
      },
    );
  },
);

clientTest(
  "CTR-13 OPN-04 a refused connection rejects opened and closed, never throws",
  async (transport) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr;
    listener.close();
    const wss = transport.connect(`ws://127.0.0.1:${port}/`);
    await assert.rejects(wss.opened, webSocketError(null));
    await assert.rejects(wss.closed, webSocketError(1006));
  },
);

clientTest(
  "CTR-14 without --allow-net the constructor throws as Deno's WebSocket does",
  async (transport) => {
    const script = `
    import { WebSocketStream } from ${
      JSON.stringify(new URL("../mod.ts", import.meta.url).href)
    };
    try {
      new WebSocketStream("ws://127.0.0.1:9/", { transport: "${transport.name}" });
      console.log("no throw");
    } catch (error) { console.log(error.name); }
  `;
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(file, script);
    const { stdout, success } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--no-config", "--allow-read", file],
      env: { NO_COLOR: "1" },
      stderr: "inherit",
    }).output();
    await Deno.remove(file);
    assert.ok(success);
    assert.equal(new TextDecoder().decode(stdout).trim(), "NotCapable");
  },
);

clientTest(
  "CTR-20 protocols are offered joined with a comma and a space",
  async (transport) => {
    let offered: string | null = null;
    await using server = serve((request) => {
      offered = request.headers.get("sec-websocket-protocol");
      const { socket, response } = Deno.upgradeWebSocket(request, {
        protocol: "beta",
      });
      socket.onopen = () => socket.close();
      return response;
    });
    const wss = transport.connect(server.url, { protocols: ["alpha", "beta"] });
    const { protocol } = await wss.opened;
    assert.equal(protocol, "beta");
    await wss.closed;
    assert.equal(offered, "alpha, beta");
  },
);

clientTest(
  "CTR-20 a subprotocol the client did not offer fails the connection",
  async (transport) => {
    await using server = startRawServer(
      (connection) => connection.drainUntilEnd(),
      { responseHeaders: ["Sec-WebSocket-Protocol: gamma"] },
    );
    for (const protocols of [[], ["alpha"]]) {
      const wss = transport.connect(server.url, { protocols });
      await assert.rejects(wss.opened, (error: unknown) => {
        webSocketError(null)(error);
        assert.match((error as Error).message, /gamma/);
        return true;
      });
      await assert.rejects(wss.closed, webSocketError(1006));
    }
  },
);

clientTest(
  "CTR-20 no subprotocol when some were offered fails the connection",
  async (transport) => {
    await using server = startRawServer((connection) =>
      connection.drainUntilEnd()
    );
    const wss = transport.connect(server.url, { protocols: ["alpha"] });
    await assert.rejects(wss.opened, webSocketError(null));
    await assert.rejects(wss.closed, webSocketError(1006));
  },
);

clientTest(
  "URL-02 URL-03 url is available at once and unchanged by the outcome",
  async (transport) => {
    await using server = startWptServer();
    const url = `${server.url}/404`;
    const wss = transport.connect(url);
    assert.equal(wss.url, url);
    await assert.rejects(wss.closed, WebSocketError);
    assert.equal(wss.url, url);
    assert.equal(
      Object.getOwnPropertyDescriptor(WebSocketStream.prototype, "url")?.set,
      undefined,
    );
  },
);

clientTest(
  "OPN-08 opened's members come in WebIDL's dictionary order",
  async (transport) => {
    await using server = startWptServer();
    const wss = transport.connect(`${server.url}/echo`);
    assert.deepEqual(Object.keys(await wss.opened), [
      "extensions",
      "protocol",
      "readable",
      "writable",
    ]);
    wss.close();
    await wss.closed;
  },
);

clientTest(
  "OPN-01 OPN-02 opened gives a readable, a writable and string protocol and extensions",
  async (transport) => {
    await using server = startWptServer();
    const wss = transport.connect(`${server.url}/echo`);
    const info = await wss.opened;
    assert.deepEqual(Object.keys(info).sort(), [
      "extensions",
      "protocol",
      "readable",
      "writable",
    ]);
    assert.ok(info.readable instanceof ReadableStream);
    assert.ok(info.writable instanceof WritableStream);
    ReadableStream.prototype.getReader.call(info.readable).releaseLock();
    WritableStream.prototype.getWriter.call(info.writable).releaseLock();
    assert.equal(info.protocol, "");
    assert.equal(info.extensions, "");
    wss.close();
    await wss.closed;
  },
);

clientTest(
  "OPN-03 protocol is the one the server selected and it is used",
  async (transport) => {
    await using server = startWptServer();
    const wss = transport.connect(`${server.url}/protocol_array`, {
      protocols: ["alpha", "beta"],
    });
    const { readable, protocol } = await wss.opened;
    assert.equal(protocol, "alpha");
    const reader = readable.getReader();
    assert.deepEqual(await reader.read(), { value: "alpha", done: false });
    reader.releaseLock();
    wss.close();
    await wss.closed;
  },
);

clientTest(
  "OPN-04 an HTTP 404 answer rejects both promises with WebSocketError",
  async (transport) => {
    await using server = startWptServer();
    const wss = transport.connect(`${server.url}/404`);
    await assert.rejects(wss.opened, (error: unknown) => {
      webSocketError(null)(error);
      assert.match((error as Error).message, /404/);
      return true;
    });
    await assert.rejects(wss.closed, webSocketError(1006));
  },
);

clientTest(
  "OPN-04 a server that does not speak HTTP rejects both promises",
  async (transport) => {
    await using server = startRawServer(
      (connection) => connection.drainUntilEnd(),
      { respond: () => "SSH-2.0-OpenSSH_9.6\r\n\r\n" },
    );
    const wss = transport.connect(server.url);
    await assert.rejects(wss.opened, webSocketError(null));
    await assert.rejects(wss.closed, webSocketError(1006));
  },
);

clientTest(
  "OPN-05 close() during the handshake rejects both promises with WebSocketError",
  async (transport) => {
    await using server = startWptServer();
    const wss = transport.connect(`${server.url}/handshake_sleep?ms=300`);
    wss.close({ closeCode: 3000, reason: "ignored" });
    await assert.rejects(wss.opened, webSocketError(null));
    await assert.rejects(wss.closed, webSocketError(1006));
  },
);

clientTest(
  "CLS-14 close() while connecting rejects in a later task, and an abort before then wins",
  async (transport) => {
    await using server = startWptServer();
    const url = `${server.url}/handshake_sleep?ms=300`;
    const order: string[] = [];
    const wss = transport.connect(url);
    wss.opened.catch(() => order.push("opened"));
    wss.close();
    for (let i = 0; i < 10; i++) await Promise.resolve();
    order.push("microtasks");
    await assert.rejects(wss.opened, webSocketError(null));
    await assert.rejects(wss.closed, webSocketError(1006));
    assert.deepEqual(order, ["microtasks", "opened"]);
    const controller = new AbortController();
    const aborted = transport.connect(url, { signal: controller.signal });
    aborted.close();
    controller.abort("why");
    await assert.rejects(aborted.opened, (reason) => reason === "why");
    await assert.rejects(aborted.closed, (reason) => reason === "why");
  },
);

Deno.test("OPT-02 options: buffer limits and timeouts are checked", () => {
  const url = "ws://127.0.0.1:1/";
  assert.throws(
    () => new WebSocketStream(url, { receiveLimit: -1 }),
    RangeError,
  );
  assert.throws(
    // @ts-expect-error: a number is required
    () => new WebSocketStream(url, { writeHighWaterMark: "big" }),
    TypeError,
  );
  assert.throws(
    () => new WebSocketStream(url, { closeTimeout: Infinity }),
    RangeError,
  );
  for (const name of ["receiveLimit", "writeHighWaterMark", "closeTimeout"]) {
    assert.throws(
      () => new WebSocketStream(url, { [name]: NaN }),
      {
        name: "RangeError",
        message: `Cannot construct WebSocketStream: options.${name} must be ${
          name === "closeTimeout" ? `between 0 and ${2 ** 31 - 1}` : "0 or more"
        }, received NaN`,
      },
    );
  }
  assert.throws(
    // @ts-expect-error: a number is required
    () => new WebSocketStream(url, { receiveLimit: "5" }),
    {
      name: "TypeError",
      message:
        'Cannot construct WebSocketStream: options.receiveLimit must be a number, received "5"',
    },
  );
  assert.throws(
    () => new WebSocketStream(url, { overflowCloseCode: 1009 }),
    domException("InvalidAccessError"),
  );
  // No close code has a fraction: Deno's WebSocket would send 4010 for
  // 4009.5, while the overflow error reported 4009.5.
  assert.throws(
    () => new WebSocketStream(url, { overflowCloseCode: 4009.5 }),
    {
      name: "InvalidAccessError",
      message:
        "Cannot construct WebSocketStream: overflowCloseCode: close code must be 1000 or between 3000 and 4999, received 4009.5",
    },
  );
  assert.throws(
    // @ts-expect-error: a number is required
    () => new WebSocketStream(url, { overflowCloseCode: "4000" }),
    {
      name: "TypeError",
      message:
        'Cannot construct WebSocketStream: options.overflowCloseCode must be a number, received "4000"',
    },
  );
});

clientTest(
  "CTR-20 an extension the client did not offer fails the connection",
  async (transport) => {
    await using server = startRawServer(
      (connection) => connection.drainUntilEnd(),
      { responseHeaders: ["Sec-WebSocket-Extensions: permessage-deflate"] },
    );
    const wss = transport.connect(
      server.url,
      transport.offersCompression ? { compression: false } : {},
    );
    await assert.rejects(wss.opened, (error: unknown) => {
      webSocketError(null)(error);
      assert.match((error as Error).message, /permessage-deflate/);
      return true;
    });
    await assert.rejects(wss.closed, webSocketError(1006));
  },
);

Deno.test("A runtime without a global WebSocket gets a TypeError that says so from the default transport", () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "WebSocket")!;
  delete (globalThis as { WebSocket?: unknown }).WebSocket;
  try {
    assert.throws(() => new WebSocketStream("ws://127.0.0.1:1/"), {
      name: "TypeError",
      message:
        'Cannot construct WebSocketStream: this runtime has no global WebSocket to build on (on Deno, transport: "socket" needs none)',
    });
  } finally {
    Object.defineProperty(globalThis, "WebSocket", saved);
  }
});
