/**
 * The process's shared close-timeout timer: deadlines expire in order and
 * not early, cancelled ones never, and a pending one never holds a process.
 */

import assert from "node:assert/strict";
import { startDeadline } from "../src/shared_deadlines.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("shared deadlines: each expires once, in order, not before its time; cancelled ones never", async () => {
  const fired: string[] = [];
  const started = performance.now();
  const at: Record<string, number> = {};
  const record = (name: string) => () => {
    fired.push(name);
    at[name] = performance.now() - started;
  };
  startDeadline(60, record("late"));
  startDeadline(20, record("early"));
  startDeadline(20, record("cancelled")).cancel();
  const cancelledLater = startDeadline(60, record("cancelled later"));
  // A deadline started by a callback is kept too.
  startDeadline(40, () => {
    record("middle")();
    startDeadline(30, record("from a callback"));
  });
  await sleep(30);
  cancelledLater.cancel();
  await sleep(120);
  assert.deepEqual(fired, ["early", "middle", "late", "from a callback"]);
  assert.ok(at.early! >= 20, `early expired at ${at.early} ms`);
  assert.ok(at.late! >= 60, `late expired at ${at.late} ms`);
  assert.ok(at["from a callback"]! >= 70);
});

Deno.test("shared deadlines: one due with others runs in start order; one cancelled by an earlier callback does not run", async () => {
  const fired: string[] = [];
  // Started together, so they share a bucket.
  const first = startDeadline(10, () => {
    fired.push("first");
    third.cancel();
    // Cancelling what already ran, or twice, changes nothing.
    first.cancel();
  });
  const second = startDeadline(10, () => fired.push("second"));
  const third = startDeadline(10, () => fired.push("third"));
  const fourth = startDeadline(10, () => fired.push("fourth"));
  second.cancel();
  second.cancel();
  await sleep(60);
  fourth.cancel();
  assert.deepEqual(fired, ["first", "fourth"]);
});

Deno.test("shared deadlines: a pending deadline does not hold the process open", async () => {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { startDeadline } from ${
        JSON.stringify(
          new URL("../src/shared_deadlines.ts", import.meta.url).href,
        )
      }; startDeadline(60_000, () => console.log("fired"));`,
    ],
    stdout: "piped",
  });
  const started = performance.now();
  const { code, stdout } = await command.output();
  assert.equal(code, 0);
  assert.equal(new TextDecoder().decode(stdout), "");
  assert.ok(performance.now() - started < 30_000);
});
