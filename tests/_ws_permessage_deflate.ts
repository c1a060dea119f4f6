/**
 * npm `ws`'s own permessage-deflate and extension header code, as an
 * independent implementation to check ours against. The package does not
 * export these files, so they are loaded by path beside its entry point.
 *
 * @module
 */

import { createRequire } from "node:module";
import "ws";

/** The options of `ws`'s `PerMessageDeflate` that the tests use. */
export interface WsDeflateOptions {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number;
  threshold?: number;
  isServer?: boolean;
  /** The most bytes a message may inflate to; 0 for no limit. */
  maxPayload?: number;
}

/** The part of `ws`'s `PerMessageDeflate` class that the tests use. */
export interface WsPerMessageDeflate {
  offer(): Record<string, unknown>;
  accept(offers: Record<string, unknown>[]): Record<string, unknown>;
  compress(
    data: Uint8Array,
    fin: boolean,
    callback: (error: Error | null, result?: Uint8Array) => void,
  ): void;
  decompress(
    data: Uint8Array,
    fin: boolean,
    callback: (error: Error | null, result?: Uint8Array) => void,
  ): void;
  cleanup(): void;
}

const require = createRequire(import.meta.url);
const lib = require.resolve("ws").replace(/index\.js$/, "lib/");

/** `ws`'s `PerMessageDeflate`. */
export const WsPerMessageDeflate: new (
  options: WsDeflateOptions,
) => WsPerMessageDeflate = require(`${lib}permessage-deflate.js`);

/** `ws`'s `Sec-WebSocket-Extensions` parser and formatter. */
export const wsExtension: {
  parse(header: string): Record<string, Record<string, unknown>[]>;
  format(extensions: Record<string, Record<string, unknown>[]>): string;
} = require(`${lib}extension.js`);

/** Runs one of `ws`'s callback-style zlib operations as a promise. */
export function viaWs(
  operation: WsPerMessageDeflate["compress"],
  data: Uint8Array,
  fin: boolean,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    operation(data, fin, (error, result) => {
      if (error !== null) reject(error);
      else resolve(new Uint8Array(result!));
    })
  );
}
