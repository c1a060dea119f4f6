/**
 * Predicates for `assert.rejects` / `assert.throws` that check the exact kind
 * of error the standard asks for.
 *
 * @module
 */

import assert from "node:assert/strict";
import { WebSocketError } from "../mod.ts";

/** Matches a DOMException with the given name. */
export function domException(name: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(
      error instanceof DOMException,
      `expected a DOMException, got ${error}`,
    );
    assert.equal(error.name, name, error.message);
    return true;
  };
}

/** Matches a WebSocketError with the given close code. */
export function webSocketError(
  closeCode: number | null,
  reason?: string,
): (error: unknown) => boolean {
  return (error) => {
    assert.ok(
      error instanceof WebSocketError,
      `expected a WebSocketError, got ${error}`,
    );
    assert.equal(error.constructor, WebSocketError);
    assert.equal(error.closeCode, closeCode, error.message);
    if (reason !== undefined) assert.equal(error.reason, reason);
    return true;
  };
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Settles `promise` and reports how: for ordering checks without timing. */
export async function settled<T>(
  promise: Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}
