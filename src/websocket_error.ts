/**
 * The {@linkcode WebSocketError} class.
 *
 * @module
 */

import { tagInterface } from "./interface_tag.ts";
import { readCloseInfo, validateCloseInfo } from "./close_code.ts";

/**
 * The close code and reason that go with a {@linkcode WebSocketError}, and
 * that `WebSocketStream.close()` takes.
 *
 * @example Closing with a code and reason
 * ```ts
 * import type { WebSocketCloseInfo } from "@streams/websocket";
 *
 * const info: WebSocketCloseInfo = { closeCode: 4000, reason: "done" };
 * ```
 */
export interface WebSocketCloseInfo {
  /**
   * The close code: 1000 or 3000-4999 when sent from JavaScript (a server
   * stream's `close()` also takes the codes a server may send).
   * A non-empty `reason` without a code means 1000.
   */
  closeCode?: number;
  /** Why the connection closed, at most 123 bytes once UTF-8 encoded. */
  reason?: string;
}

let createUnvalidated: (
  message: string,
  closeCode: number | null,
  reason: string,
) => WebSocketError;
let readInternals: (
  value: unknown,
) => { closeCode: number | null; reason: string } | undefined;

/**
 * The error a {@linkcode WebSocketStream} rejects `opened` and `closed` with
 * when a connection fails or closes uncleanly, also accepted by
 * `readable.cancel()` and `writable.abort()` to close with a given code.
 *
 * It is a `DOMException` named `"WebSocketError"` that carries the close code
 * (`null` when there is none) and the reason. The errors a connection
 * reports may carry codes the constructor refuses (1006, 1001, 1011...).
 *
 * @example Closing with a code through `writable.abort()`
 * ```ts
 * import { WebSocketError } from "@streams/websocket";
 *
 * const error = new WebSocketError("shutting down", {
 *   closeCode: 4000,
 *   reason: "maintenance",
 * });
 * console.log(error.closeCode, error.reason); // 4000 "maintenance"
 * console.log(error instanceof DOMException); // true
 * ```
 */
export class WebSocketError extends DOMException {
  #closeCode: number | null;
  #reason: string;

  /**
   * Creates an error with a message and an optional close code and reason.
   *
   * @param message What went wrong.
   * @param init The close code (1000 or 3000-4999) and reason (at most 123
   *   UTF-8 bytes); a reason without a code means 1000.
   * @throws {DOMException} `InvalidAccessError` for a code JavaScript may not
   *   send, `SyntaxError` for an overlong reason.
   * @throws {TypeError} When `init` is not an object or the code is not an
   *   unsigned 16-bit integer.
   */
  constructor(message: string = "", init: WebSocketCloseInfo = {}) {
    super(message, "WebSocketError");
    const read = readCloseInfo(init, "Cannot construct WebSocketError");
    const valid = validateCloseInfo(
      read.closeCode,
      read.reason,
      "client",
      "Cannot construct WebSocketError",
    );
    this.#closeCode = valid.closeCode ?? null;
    this.#reason = valid.reason;
  }

  static {
    // Not DOMException's tag, which it would inherit.
    tagInterface(WebSocketError, "WebSocketError");
    // Errors this package reports for a connection carry codes JavaScript may
    // not choose (1006, 1001, 1011...), so they are built without validation.
    createUnvalidated = (message, closeCode, reason) => {
      const error = new WebSocketError(message);
      error.#closeCode = closeCode;
      error.#reason = reason;
      return error;
    };
    readInternals = (value) =>
      typeof value === "object" && value !== null && #closeCode in value
        ? { closeCode: value.#closeCode, reason: value.#reason }
        : undefined;
  }

  /**
   * The close code of the connection, or `null` when there is none.
   *
   * @example Reading the close code of an unclean close
   * ```ts
   * import { WebSocketError } from "@streams/websocket";
   *
   * const error = new WebSocketError("gone", { closeCode: 4001 });
   * console.log(error.closeCode); // 4001
   * ```
   */
  get closeCode(): number | null {
    return this.#closeCode;
  }

  /**
   * The reason given with the close code, `""` when there is none.
   *
   * @example Reading the reason
   * ```ts
   * import { WebSocketError } from "@streams/websocket";
   *
   * const error = new WebSocketError("", { closeCode: 4001, reason: "bye" });
   * console.log(error.reason); // "bye"
   * ```
   */
  get reason(): string {
    return this.#reason;
  }
}

/**
 * Makes a {@linkcode WebSocketError} for a code the connection reported,
 * which may be one JavaScript is not allowed to choose (1006, 1001...).
 */
export function createWebSocketError(
  message: string,
  closeCode: number | null,
  reason = "",
): WebSocketError {
  return createUnvalidated(message, closeCode, reason);
}

/**
 * The close code and reason `value` holds if the {@linkcode WebSocketError}
 * constructor made it, else `undefined`: a brand check, so neither look-alike
 * objects nor other DOMExceptions pass, and the values are its own, not
 * properties that may shadow the getters.
 */
export function webSocketErrorCloseInfo(
  value: unknown,
): { closeCode: number | null; reason: string } | undefined {
  return readInternals(value);
}
