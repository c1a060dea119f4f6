/**
 * Micro-benchmarks of a close timeout that is started and then cancelled, as
 * nearly every close does: a timer of its own per close, against the
 * process's shared deadlines. Run with `deno bench bench/micro/`.
 *
 * @module
 */

import { startDeadline } from "../../src/shared_deadlines.ts";

const CLOSE_TIMEOUT_MS = 1000;
function never(): void {}

Deno.bench(
  "close timeout: setTimeout + clearTimeout",
  { group: "close" },
  () => {
    clearTimeout(setTimeout(never, CLOSE_TIMEOUT_MS));
  },
);
Deno.bench(
  "close timeout: startDeadline + cancel",
  { group: "close", baseline: true },
  () => {
    startDeadline(CLOSE_TIMEOUT_MS, never).cancel();
  },
);
