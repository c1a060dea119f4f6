/**
 * Property-based tests over the whole public API: every call either works or
 * fails with the documented error type (TypeError, RangeError, DOMException
 * SyntaxError / InvalidAccessError, WebSocketError), nothing rejects
 * unobserved and nothing hangs. The case counts are printed; together they
 * exceed 10,000.
 *
 * Constructions that succeed get an already aborted signal, so no property
 * reaches the network except the chunk property, which uses a local echo
 * server.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  upgradeWebSocketStream,
  WebSocketError,
  WebSocketStream,
} from "../mod.ts";
import { startWptServer } from "./_wpt_server.ts";
import { fulfilmentWithin, rejectionWithin } from "./_assert.ts";

const encoder = new TextEncoder();
/** Cases per property; together at least 10,000. */
const CONSTRUCTOR_RUNS = 4000;
const CLOSE_RUNS = 4000;
const UPGRADE_RUNS = 1500;
const WRITE_RUNS = 1500;
/** Cases actually run, for the log. */
let cases = 0;

/** Whether `error` is one of the documented synchronous error types. */
function isDocumentedError(error: unknown): boolean {
  if (error instanceof TypeError || error instanceof RangeError) return true;
  return error instanceof DOMException &&
    (error.name === "SyntaxError" || error.name === "InvalidAccessError");
}

/** Strings with lone surrogates, astral and multi-byte characters. */
const anyText = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.string({ unit: fc.constantFrom("\uD800", "\uDFFF", "é", "€", "🔌", "a") }),
  fc.string(),
);

/** Reasons clustered around the 123-byte limit, in 1- to 4-byte characters. */
const edgeReason = fc.tuple(
  fc.constantFrom("a", "é", "€", "🔌", "\uD800"),
  fc.integer({ min: 28, max: 126 }),
).map(([unit, bytes]) => {
  const unitBytes = encoder.encode(unit.toWellFormed()).byteLength;
  return unit.repeat(Math.max(0, Math.round(bytes / unitBytes)));
});

const closeCodeLike = fc.oneof(
  fc.integer({ min: -5, max: 70_000 }),
  fc.constantFrom(999, 1000, 1001, 1005, 1006, 1015, 2999, 3000, 4999, 5000),
  fc.double(),
  fc.constantFrom(NaN, Infinity, -Infinity, "3000", "x", null, true),
  fc.constant(undefined),
);

/** The standard's rule, written independently of the library. */
function expectedCloseOutcome(
  closeCode: unknown,
  reason: unknown,
  role: "client" | "server",
): "ok" | "TypeError" | "InvalidAccessError" | "SyntaxError" {
  if (closeCode !== undefined) {
    const number = Number(closeCode);
    if (!Number.isFinite(number)) return "TypeError";
    const code = Math.trunc(number);
    if (code < 0 || code > 65535) return "TypeError";
    const serverOnly = [1001, 1002, 1003, 1007, 1008, 1009, 1011];
    const allowed = code === 1000 || (code >= 3000 && code <= 4999) ||
      (role === "server" &&
        (serverOnly.includes(code) || (code >= 1012 && code <= 1014)));
    if (!allowed) return "InvalidAccessError";
  }
  const text = reason === undefined ? "" : String(reason).toWellFormed();
  return encoder.encode(text).byteLength > 123 ? "SyntaxError" : "ok";
}

function outcomeOf(call: () => unknown): string {
  try {
    call();
    return "ok";
  } catch (error) {
    assert.ok(isDocumentedError(error), `undocumented error ${error}`);
    return error instanceof DOMException ? error.name : error!.constructor.name;
  }
}

const urlLike = fc.oneof(
  fc.webUrl({ withFragments: true, withQueryParameters: true }),
  fc.webUrl().map((url) => url.replace(/^https?/, "ws")),
  fc.constantFrom("ws://h/#", "ws://[::1]:1/", "wss://x", "ftp://x", "ws:", ""),
  anyText,
);
const protocolList = fc.oneof(
  fc.array(fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,8}$/), {
    maxLength: 4,
  }),
  fc.array(anyText, { maxLength: 3 }),
  fc.anything(),
);
const optionBag = fc.record({
  protocols: protocolList,
  writeHighWaterMark: fc.oneof(fc.nat(), fc.double(), fc.anything()),
  receiveLimit: fc.oneof(fc.nat(), fc.double(), fc.anything()),
  overflowCloseCode: closeCodeLike,
  closeTimeout: fc.oneof(fc.nat(), fc.double(), fc.anything()),
  headers: fc.oneof(
    fc.constant(undefined),
    fc.dictionary(fc.stringMatching(/^[a-z-]{1,10}$/), fc.string()),
    fc.anything(),
  ),
}, { requiredKeys: [] });

Deno.test("fuzz: the constructor works or throws TypeError/RangeError/SyntaxError/InvalidAccessError; opened and closed reject with the abort reason", async () => {
  const pending: Promise<void>[] = [];
  fc.assert(
    fc.property(urlLike, optionBag, (url, options) => {
      cases++;
      const reason = new Error("fuzz abort");
      let wss: WebSocketStream;
      try {
        wss = new WebSocketStream(url, {
          ...(options as object),
          signal: AbortSignal.abort(reason),
        });
      } catch (error) {
        assert.ok(isDocumentedError(error), `undocumented error ${error}`);
        return;
      }
      assert.match(wss.url, /^wss?:\/\//);
      assert.ok(!wss.url.includes("#"));
      pending.push(
        rejectionWithin(wss.opened, 1000, "opened").then((error) =>
          assert.equal(error, reason)
        ),
        rejectionWithin(wss.closed, 1000, "closed").then((error) =>
          assert.equal(error, reason)
        ),
      );
    }),
    { numRuns: CONSTRUCTOR_RUNS },
  );
  await Promise.all(pending);
});

Deno.test("fuzz: close() and new WebSocketError follow the close-code and 123-byte rules, lone surrogates included", () => {
  const wss = new WebSocketStream("ws://127.0.0.1:9/", {
    signal: AbortSignal.abort(),
  });
  fc.assert(
    fc.property(
      closeCodeLike,
      fc.oneof(anyText, edgeReason, fc.constant(undefined)),
      (closeCode, reason) => {
        cases++;
        const init = { closeCode, reason } as {
          closeCode?: number;
          reason?: string;
        };
        if (closeCode === undefined) delete init.closeCode;
        if (reason === undefined) delete init.reason;
        const expected = expectedCloseOutcome(closeCode, reason, "client");
        assert.equal(outcomeOf(() => wss.close(init)), expected);
        assert.equal(
          outcomeOf(() => new WebSocketError("m", init)),
          expected,
        );
        if (expected === "ok") {
          const error = new WebSocketError("m", init);
          const text = reason === undefined ? "" : reason.toWellFormed();
          assert.equal(error.reason, text);
          assert.equal(
            error.closeCode,
            closeCode === undefined
              ? (text === "" ? null : 1000)
              : Math.trunc(Number(closeCode)),
          );
        }
      },
    ),
    { numRuns: CLOSE_RUNS },
  );
  // Every call to close() after the abort was a no-op.
  return rejectionWithin(wss.closed, 1000, "closed").then(() => {});
});

Deno.test("fuzz: upgradeWebSocketStream's option bag works or throws TypeError/RangeError/InvalidAccessError", () => {
  fc.assert(
    fc.property(
      optionBag,
      fc.record({
        protocol: fc.oneof(fc.string(), fc.array(fc.string()), fc.anything()),
        origins: fc.oneof(
          fc.array(fc.webUrl().map((url) => new URL(url).origin)),
          fc.array(fc.webUrl()),
          fc.anything(),
        ),
        idleTimeout: fc.anything(),
      }, { requiredKeys: [] }),
      (streamOptions, serverOptions) => {
        cases++;
        // Not an upgrade, so the options are checked and a 426 comes back
        // without needing a real connection.
        const request = new Request("http://127.0.0.1/");
        try {
          const { response, stream } = upgradeWebSocketStream(request, {
            ...(streamOptions as object),
            ...(serverOptions as object),
          });
          assert.equal(response.status, 426);
          assert.equal(stream, undefined);
        } catch (error) {
          assert.ok(isDocumentedError(error), `undocumented error ${error}`);
        }
      },
    ),
    { numRuns: UPGRADE_RUNS },
  );
});

/** Chunk values of every type, each with what the echo should give back. */
const chunk = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.anything(),
  fc.uint8Array({ maxLength: 300 }),
  fc.int16Array({ maxLength: 50 }),
  fc.float64Array({ maxLength: 20 }),
  fc.bigInt64Array({ maxLength: 10 }),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => bytes.buffer),
  fc.uint8Array({ minLength: 4, maxLength: 64 }).map((bytes) =>
    new DataView(bytes.buffer, 1, bytes.byteLength - 2)
  ),
  fc.constantFrom<unknown>(
    Symbol("s"),
    { toString: () => ({}) },
    new ArrayBuffer(8, { maxByteLength: 16 }),
    new Uint8Array(new SharedArrayBuffer(8)),
    new SharedArrayBuffer(4),
    42,
    null,
    undefined,
    "\uD800",
  ),
);

/** What the echo of `value` should be, or `"TypeError"`. */
function expectedEcho(value: unknown): string | Uint8Array | "TypeError" {
  if (value instanceof ArrayBuffer) {
    return value.resizable ? "TypeError" : new Uint8Array(value.slice(0));
  }
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof SharedArrayBuffer) return "TypeError";
    return new Uint8Array(
      value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength),
    );
  }
  try {
    // ToString, which unlike String() refuses a Symbol.
    return `${value}`.toWellFormed();
  } catch {
    return "TypeError";
  }
}

Deno.test("fuzz: chunks of every type written to an open stream are echoed as text or binary, or the write rejects with TypeError", async () => {
  await using server = startWptServer();
  let connection: {
    wss: WebSocketStream;
    writer: WritableStreamDefaultWriter;
    reader: ReadableStreamDefaultReader<string | Uint8Array>;
  } | undefined;
  const connect = async () => {
    const wss = new WebSocketStream(`${server.url}/echo`);
    const { readable, writable } = await fulfilmentWithin(
      wss.opened,
      5000,
      "opened",
    );
    return { wss, writer: writable.getWriter(), reader: readable.getReader() };
  };
  const finish = async () => {
    if (connection === undefined) return;
    connection.wss.close();
    await connection.wss.closed.catch(() => {});
    connection = undefined;
  };
  await fc.assert(
    fc.asyncProperty(chunk, async (value) => {
      cases++;
      connection ??= await connect();
      const expected = expectedEcho(value);
      const write = await fulfilmentWithin(
        connection.writer.write(value).then(() => "ok", (error) => error),
        5000,
        "write",
      );
      if (expected === "TypeError") {
        assert.ok(write instanceof TypeError, `expected TypeError: ${write}`);
        // A rejected write errors the writable (WR-06): start afresh.
        await finish();
        return;
      }
      assert.equal(write, "ok");
      const { value: echoed } = await fulfilmentWithin(
        connection.reader.read(),
        5000,
        "echo",
      );
      if (typeof expected === "string") {
        assert.equal(echoed, expected);
      } else {
        assert.ok(echoed instanceof Uint8Array);
        assert.deepEqual([...echoed], [...expected]);
      }
    }),
    { numRuns: WRITE_RUNS },
  );
  await finish();
});

Deno.test("fuzz: the properties together ask for at least 10,000 cases", () => {
  const planned = CONSTRUCTOR_RUNS + CLOSE_RUNS + UPGRADE_RUNS + WRITE_RUNS;
  // Under --filter fewer properties run; the count is reported, not asserted.
  console.log(`fuzz cases run: ${cases} of ${planned} planned`);
  assert.ok(planned >= 10_000, `only ${planned} cases planned`);
});
