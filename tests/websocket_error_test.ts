import assert from "node:assert/strict";
import { WebSocketError } from "../mod.ts";

Deno.test("ERR-02 WebSocketError is a DOMException named WebSocketError", () => {
  const error = new WebSocketError("message");
  assert.ok(error instanceof DOMException);
  assert.ok(error instanceof Error);
  assert.equal(error.name, "WebSocketError");
  assert.equal(error.code, 0);
  assert.equal(error.message, "message");
  assert.equal(new WebSocketError().message, "");
});

Deno.test("ERR-11 Object.prototype.toString gives [object WebSocketError], as in browsers", () => {
  const toString = Object.prototype.toString;
  assert.equal(
    toString.call(new WebSocketError("m")),
    "[object WebSocketError]",
  );
  assert.equal(
    toString.call(WebSocketError.prototype),
    "[object WebSocketError]",
  );
  assert.equal(toString.call(new DOMException("m")), "[object DOMException]");
  assert.deepEqual(
    Object.getOwnPropertyDescriptor(
      WebSocketError.prototype,
      Symbol.toStringTag,
    ),
    {
      value: "WebSocketError",
      writable: false,
      enumerable: false,
      configurable: true,
    },
  );
});

Deno.test("ERR-03 WebSocketError defaults to a null closeCode and empty reason", () => {
  const error = new WebSocketError();
  assert.equal(error.closeCode, null);
  assert.equal(error.reason, "");
});

Deno.test("ERR-04 closeCode and reason are read-only prototype getters", () => {
  const error = new WebSocketError("", { closeCode: 3000, reason: "r" });
  assert.deepEqual(
    Object.getOwnPropertyNames(error).includes("closeCode"),
    false,
  );
  const closeCode = Object.getOwnPropertyDescriptor(
    WebSocketError.prototype,
    "closeCode",
  );
  const reason = Object.getOwnPropertyDescriptor(
    WebSocketError.prototype,
    "reason",
  );
  assert.equal(typeof closeCode?.get, "function");
  assert.equal(closeCode?.set, undefined);
  assert.equal(typeof reason?.get, "function");
  assert.equal(reason?.set, undefined);
});

Deno.test("ERR-05 closeCode and reason are stored as given", () => {
  const both = new WebSocketError("", { closeCode: 3456, reason: "reason" });
  assert.equal(both.closeCode, 3456);
  assert.equal(both.reason, "reason");
  const codeOnly = new WebSocketError("", { closeCode: 3333 });
  assert.equal(codeOnly.closeCode, 3333);
  assert.equal(codeOnly.reason, "");
});

Deno.test("ERR-06 a non-empty reason without a code means 1000", () => {
  const error = new WebSocketError("", { reason: "non-empty" });
  assert.equal(error.closeCode, 1000);
  assert.equal(error.reason, "non-empty");
});

Deno.test("ERR-07 codes JavaScript may not send are InvalidAccessError, out-of-range codes TypeError", () => {
  for (const closeCode of [0, 999, 1001, 1005, 1006, 2999, 5000]) {
    assert.throws(
      () => new WebSocketError("", { closeCode }),
      (error: unknown) =>
        error instanceof DOMException && error.name === "InvalidAccessError" &&
        error.message.includes(String(closeCode)),
      `closeCode ${closeCode}`,
    );
  }
  for (const closeCode of [-1, 70000, NaN, Infinity]) {
    assert.throws(
      () => new WebSocketError("", { closeCode }),
      TypeError,
      `closeCode ${closeCode}`,
    );
  }
  assert.equal(new WebSocketError("", { closeCode: 3000.9 }).closeCode, 3000);
});

Deno.test("ERR-08 reasons over 123 UTF-8 bytes are a SyntaxError", () => {
  for (const reason of ["x".repeat(124), "🔌".repeat(32)]) {
    assert.throws(
      () => new WebSocketError("", { closeCode: 3000, reason }),
      (error: unknown) =>
        error instanceof DOMException && error.name === "SyntaxError",
    );
  }
  assert.equal(
    new WebSocketError("", { closeCode: 3000, reason: "x".repeat(123) }).reason
      .length,
    123,
  );
});

Deno.test("ERR-01 WebSocketError takes a null or undefined init, refuses other primitives", () => {
  assert.equal(new WebSocketError("m", undefined).closeCode, null);
  // @ts-expect-error: WebIDL treats null as an empty dictionary
  assert.equal(new WebSocketError("m", null).closeCode, null);
  // @ts-expect-error: a dictionary must be an object
  assert.throws(() => new WebSocketError("m", true), {
    name: "TypeError",
    message:
      "Cannot construct WebSocketError: close info must be an object, received true",
  });
  assert.throws(
    () => new WebSocketError("m", { closeCode: Symbol("c") as never }),
    {
      name: "TypeError",
      message:
        "Cannot construct WebSocketError: closeCode must be a finite number, received Symbol(c)",
    },
  );
  assert.throws(
    () => new WebSocketError("m", { closeCode: 4000n as never }),
    {
      name: "TypeError",
      message:
        "Cannot construct WebSocketError: closeCode must be a finite number, received 4000n",
    },
  );
});
