/**
 * Micro-benchmarks of close-code and reason validation, run on every
 * `close()`, `abort()` and `cancel()`. Run with `deno bench bench/micro/`.
 *
 * @module
 */

import {
  isSendableCloseCode,
  readCloseInfo,
  validateCloseInfo,
} from "../../src/close_code.ts";

const what = "bench";
const reason = "a reason of some length that fits in a close frame";

Deno.bench("isSendableCloseCode: 1000, client", () => {
  isSendableCloseCode(1000, "client");
});
Deno.bench("isSendableCloseCode: 1011, server", () => {
  isSendableCloseCode(1011, "server");
});
Deno.bench("readCloseInfo + validateCloseInfo: code and reason", () => {
  const read = readCloseInfo({ closeCode: 4000, reason }, what);
  validateCloseInfo(read.closeCode, read.reason, "client", what);
});
Deno.bench("validateCloseInfo: no code, no reason", () => {
  validateCloseInfo(undefined, "", "client", what);
});
