/**
 * Assertions shared by the suites: predicates for the exact kind of error the
 * standard asks for, and waiting for a promise to settle within a bound.
 *
 * @module
 */

import assert from "node:assert/strict";
import { WebSocketError } from "../mod.ts";

/** A bound on waits for what must happen promptly: a hang fails the test. */
export const BOUND_MS = 5000;

/**
 * Matches a DOMException named `name`. Pass the result to `assert.rejects` /
 * `assert.throws`, or call it on an error already caught.
 */
export function domException(name: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(
      error instanceof DOMException,
      `expected a DOMException ${name}, got ${error}`,
    );
    assert.equal(error.name, name, error.message);
    return true;
  };
}

/** What a {@linkcode WebSocketError} must carry besides its close code. */
export interface WebSocketErrorExpectation {
  /** The exact close reason. */
  reason?: string;
  /** A pattern the message must match. */
  message?: RegExp;
}

/**
 * Matches a {@linkcode WebSocketError} (not a subclass) with `closeCode` and
 * what `expected` names. Pass the result to `assert.rejects` /
 * `assert.throws`, or call it on an error already caught.
 */
export function webSocketError(
  closeCode: number | null,
  expected: WebSocketErrorExpectation = {},
): (error: unknown) => boolean {
  return (error) => {
    assert.ok(
      error instanceof WebSocketError,
      `expected a WebSocketError, got ${error}`,
    );
    assert.equal(error.constructor, WebSocketError);
    assert.equal(error.closeCode, closeCode, `closeCode of "${error.message}"`);
    if (expected.reason !== undefined) {
      assert.equal(error.reason, expected.reason);
    }
    if (expected.message !== undefined) {
      assert.match(error.message, expected.message);
    }
    return true;
  };
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How a promise settled. */
export type Settled<T> =
  | { status: "fulfilled"; value: T }
  | { status: "rejected"; reason: unknown };

/**
 * Waits for `promise` to settle and reports how, failing the test if it has
 * not within `ms` milliseconds: a hang becomes an assertion, not a stuck run.
 */
export async function settleWithin<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<Settled<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not settle within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([
      promise.then(
        (value): Settled<T> => ({ status: "fulfilled", value }),
        (reason): Settled<T> => ({ status: "rejected", reason }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts that `promise` rejects within `ms` and returns the reason. */
export async function rejectionWithin(
  promise: Promise<unknown>,
  ms: number,
  what: string,
): Promise<unknown> {
  const settled = await settleWithin(promise, ms, what);
  if (settled.status === "fulfilled") {
    assert.fail(`${what} should reject, fulfilled with ${settled.value}`);
  }
  return settled.reason;
}

/** Asserts that `promise` fulfils within `ms` and returns the value. */
export async function fulfilmentWithin<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  const settled = await settleWithin(promise, ms, what);
  if (settled.status === "rejected") {
    assert.fail(`${what} should fulfil, rejected with ${settled.reason}`);
  }
  return settled.value;
}
