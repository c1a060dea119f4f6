/**
 * What the command line tool (`cli/`) uses of the library beyond its public
 * API: one entry, so that the tool's reach into `src/` is visible in one
 * place and a file moved inside `src/` changes only this list.
 *
 * @module
 */

export { describeError } from "./describe_error.ts";
export { type Message, messageSize } from "./message.ts";
export { type Role, validateCloseInfo } from "./close_code.ts";
export { isProtocolToken, parseWebSocketUrl } from "./handshake_options.ts";
export { refuseHandshakeHeaders } from "./socket/client_handshake.ts";
