/**
 * Where a `ws:` or `wss:` URL connects to, and Deno's permission to connect
 * there: light enough to be checked before the socket transport's modules
 * are loaded.
 *
 * @module
 */

/** Where a `ws:` or `wss:` URL connects to. */
export interface Endpoint {
  /** The URL it was worked out from. */
  url: URL;
  hostname: string;
  port: number;
  /** The host of the `net` permission it needs. */
  permissionHost: string;
}

/**
 * The endpoint worked out last. Connections to one server share the URL
 * object (see `parseUrlAgain` in `websocket_stream.ts`), which nothing
 * changes, so theirs is worked out once.
 */
let lastEndpoint: Endpoint | undefined;

/** The host and port to connect to for a `ws:` or `wss:` URL. */
export function endpointOf(url: URL): Endpoint {
  if (lastEndpoint?.url === url) return lastEndpoint;
  const port = url.port === ""
    ? (url.protocol === "wss:" ? 443 : 80)
    : Number(url.port);
  return lastEndpoint = {
    url,
    // IPv6 literals come bracketed in URLs, but not in Deno.connect.
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    // Permissions name IPv6 hosts with their brackets, as URLs do.
    permissionHost: `${url.hostname}:${port}`,
  };
}

/**
 * Throws Deno's `NotCapable` unless net access to `url`'s endpoint is granted
 * or, when asked for, given: Deno's WebSocket asks for a missing permission,
 * and throws when it is refused, at construction.
 */
export function requireNetAccess(url: URL): void {
  const host = endpointOf(url).permissionHost;
  const descriptor = { name: "net", host } as const;
  if (
    Deno.permissions.querySync(descriptor).state !== "granted" &&
    Deno.permissions.requestSync(descriptor).state !== "granted"
  ) {
    throw new Deno.errors.NotCapable(
      `Requires net access to "${host}", run again with the --allow-net flag`,
    );
  }
}
