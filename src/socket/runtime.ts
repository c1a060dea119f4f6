/**
 * What the socket transport takes from the runtime without a static import,
 * so that `mod.ts` stays loadable in browsers, which never reach the socket
 * transport: a bundle of it must not import `node:` modules.
 *
 * @module
 */

import type * as Zlib from "node:zlib";

/** `findZlib`'s answer once asked; `null` before. */
let foundZlib: typeof Zlib | undefined | null = null;

/**
 * The runtime's `node:zlib` (Deno, Node), or `undefined` where there is none:
 * then a client offers no compression. Looked up only when compression is
 * wanted: in Deno, reaching `process` installs the inspector's network
 * hooks, which every `WebSocket` in the process then consults at each
 * message it sends or receives, so the default transport must not.
 */
export function findZlib(): typeof Zlib | undefined {
  if (foundZlib === null) {
    foundZlib = (globalThis as {
      process?: { getBuiltinModule?: (id: string) => unknown };
    }).process?.getBuiltinModule?.("node:zlib") as typeof Zlib | undefined;
  }
  return foundZlib;
}

/**
 * Resolves after one macrotask turn: long enough for a producer to queue its
 * next frames, or for other connections to be served. Deno's `setImmediate`
 * costs microseconds where a timer costs milliseconds; where it is missing,
 * no turn is waited for.
 */
export const nextTurn: () => Promise<void> = (() => {
  const { setImmediate } = globalThis as {
    setImmediate?: (callback: () => void) => unknown;
  };
  if (setImmediate === undefined) return () => Promise.resolve();
  return () => new Promise<void>((resolve) => setImmediate(resolve));
})();
