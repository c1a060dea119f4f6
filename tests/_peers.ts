/**
 * Finds the outside programs that interop and engine tests talk to, and
 * registers those tests so that a missing program is visible, never silent.
 *
 * Each peer is looked up first through its environment variable, then by its
 * usual names on `PATH` (and, for browsers, their usual macOS locations):
 *
 * - `chromium`: `CHROMIUM_PATH`; chromium, chromium-browser, google-chrome,
 *   google-chrome-stable, chrome (`apt-get install -y chromium`);
 * - `firefox`: `FIREFOX_PATH`; firefox-esr, firefox
 *   (`apt-get install -y firefox-esr`);
 * - `node`: `NODE_BINARY_PATH`; npx (through which a test runs a pinned
 *   Node), then a node of 22 or later (`apt-get install -y nodejs npm`);
 * - `python`: `PYTHON3_PATH`; every python3 on PATH, then /usr/bin/python3:
 *   the first that can `import websockets`
 *   (`apt-get install -y python3-websockets`);
 * - `redis`: `REDIS_SERVER_PATH`; redis-server
 *   (`apt-get install -y redis-server`).
 *
 * Where a peer is missing, {@linkcode peerTest} registers the test as ignored
 * under a name that ends with the install command, so the run passes and the
 * skip shows in the summary. Where `STREAMS_REQUIRE_PEERS=1` is set (as
 * `.ci/run` does), the test runs instead and fails, saying what is missing:
 * CI never passes by skipping.
 *
 * @example A test that needs redis-server
 * ```ts ignore
 * import { findPeer, peerTest } from "./_peers.ts";
 *
 * const redis = findPeer("redis");
 * peerTest(redis, "the hub reaches another process through Redis", async (redisServer) => {
 *   // redisServer is the path of the redis-server executable.
 * });
 * ```
 *
 * @example Several peers, or Deno.test's own options
 * ```ts ignore
 * import { findPeer, peerPath, peerTestOptions } from "./_peers.ts";
 *
 * const chromium = findPeer("chromium");
 * const redis = findPeer("redis");
 * Deno.test({
 *   ...peerTestOptions([chromium, redis], "a page chats through two servers on Redis"),
 *   sanitizeResources: false,
 *   async fn() {
 *     const browser = peerPath(chromium);
 *     const redisServer = peerPath(redis);
 *   },
 * });
 * ```
 *
 * @module
 */

/** Set to `1` to make every peer mandatory: a missing one fails its tests. */
export const REQUIRE_PEERS_ENV = "STREAMS_REQUIRE_PEERS";

/** The outside programs the tests know how to find. */
export type PeerName = "chromium" | "firefox" | "node" | "python" | "redis";

/** What {@linkcode findPeer} found, or how to get it. */
export interface Peer {
  /** The peer's name, as given to {@linkcode findPeer}. */
  readonly name: PeerName;
  /** The executable found, or `undefined` where none was. */
  readonly path: string | undefined;
  /** The command that installs it on Debian and Ubuntu. */
  readonly install: string;
  /** What was looked for, for the messages of a missing peer. */
  readonly lookedFor: string;
}

interface PeerSpec {
  env: string;
  names: readonly string[];
  /** Absolute paths tried after PATH. */
  locations?: readonly string[];
  install: string;
  /** Whether a candidate executable is usable (by default: it exists). */
  usable?(path: string): boolean;
  requirement?: string;
}

const PEERS: Record<PeerName, PeerSpec> = {
  chromium: {
    env: "CHROMIUM_PATH",
    names: [
      "chromium",
      "chromium-browser",
      "google-chrome",
      "google-chrome-stable",
      "chrome",
    ],
    locations: [
      "/Applications/Chromium.app/Contents/MacOS/Chromium",
      "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    ],
    install: "apt-get install -y chromium",
  },
  firefox: {
    env: "FIREFOX_PATH",
    names: ["firefox-esr", "firefox"],
    locations: ["/Applications/Firefox.app/Contents/MacOS/firefox"],
    install: "apt-get install -y firefox-esr",
  },
  node: {
    env: "NODE_BINARY_PATH",
    names: ["npx", "node"],
    install: "apt-get install -y nodejs npm",
    // Deno puts a `node` of its own first on a test's PATH; a Node before 22
    // has no WebSocket.
    usable: (path) =>
      isNpx(path) ||
      succeeds(path, [
        "-e",
        "process.exit(typeof Deno === 'undefined' && typeof WebSocket === 'function' ? 0 : 1)",
      ]),
    requirement: "Node 22 or later",
  },
  python: {
    env: "PYTHON3_PATH",
    names: ["python3"],
    locations: ["/usr/bin/python3"],
    install: "apt-get install -y python3-websockets",
    usable: (path) => succeeds(path, ["-c", "import websockets"]),
    requirement: "able to import websockets",
  },
  redis: {
    env: "REDIS_SERVER_PATH",
    names: ["redis-server"],
    install: "apt-get install -y redis-server",
  },
};

const found = new Map<PeerName, Peer>();

/**
 * Looks `name` up once per test process: its environment variable, then
 * `PATH`, then its usual locations. Needs `--allow-env`, `--allow-read` and,
 * for `python`, `--allow-run`.
 */
export function findPeer(name: PeerName): Peer {
  let peer = found.get(name);
  if (peer === undefined) {
    const spec = PEERS[name];
    const fromEnv = Deno.env.get(spec.env);
    // A variable that is set is the user's choice: it is not second-guessed
    // by PATH, so a wrong one shows as missing instead of being papered over.
    const candidates = fromEnv
      ? [fromEnv]
      : [...spec.names.flatMap(onPath), ...(spec.locations ?? [])];
    const path = candidates.find((candidate) =>
      isExecutable(candidate) && (spec.usable?.(candidate) ?? true)
    );
    const lookedFor = fromEnv
      ? `${spec.env}=${fromEnv}`
      : `${
        [...spec.names, ...(spec.locations ?? [])].join(", ")
      } or ${spec.env}`;
    peer = {
      name,
      path,
      install: spec.install,
      lookedFor: spec.requirement
        ? `${lookedFor}; ${spec.requirement}`
        : lookedFor,
    };
    found.set(name, peer);
  }
  return peer;
}

/** Whether a missing peer fails its tests instead of skipping them. */
export function peersRequired(): boolean {
  return Deno.env.get(REQUIRE_PEERS_ENV) === "1";
}

/**
 * The executable of `peer`; throws, naming the install command, where it is
 * missing (which only a test run with {@linkcode REQUIRE_PEERS_ENV} reaches).
 */
export function peerPath(peer: Peer): string {
  if (peer.path === undefined) {
    throw new Error(
      `Cannot run ${peer.name}: none found (looked for ${peer.lookedFor}); install it with "${peer.install}"`,
    );
  }
  return peer.path;
}

/**
 * The `name` and `ignore` fields of a test that needs `peers`, to spread
 * into `Deno.test({...})`: ignored and named with the install commands where
 * one is missing, unless peers are required.
 */
export function peerTestOptions(
  peers: readonly Peer[],
  name: string,
): { name: string; ignore: boolean } {
  const missing = peers.filter((peer) => peer.path === undefined);
  if (missing.length === 0 || peersRequired()) return { name, ignore: false };
  const how = missing.map((peer) => `no ${peer.name}: ${peer.install}`);
  return { name: `${name} [skipped, ${how.join("; ")}]`, ignore: true };
}

/**
 * Registers a test that needs `peer` and hands it the peer's executable.
 * Where the peer is missing it is ignored (named with the install command),
 * or fails if {@linkcode REQUIRE_PEERS_ENV} is `1`.
 */
export function peerTest(
  peer: Peer,
  name: string,
  fn: (path: string, t: Deno.TestContext) => void | Promise<void>,
): void {
  Deno.test({
    ...peerTestOptions([peer], name),
    fn: (t) => fn(peerPath(peer), t),
  });
}

/** Whether the `node` peer found is npx, through which Node is fetched. */
export function isNpx(path: string): boolean {
  return /^npx(\.cmd)?$/.test(path.slice(path.lastIndexOf("/") + 1));
}

function onPath(name: string): string[] {
  const windows = Deno.build.os === "windows";
  const dirs = (Deno.env.get("PATH") ?? "").split(windows ? ";" : ":");
  const file = windows ? `${name}.exe` : name;
  return dirs.filter((dir) => dir !== "").map((dir) => `${dir}/${file}`);
}

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    // mode is null on Windows, where existing is what counts.
    return info.isFile && (info.mode === null || (info.mode & 0o111) !== 0);
  } catch {
    return false;
  }
}

function succeeds(path: string, args: string[]): boolean {
  try {
    return new Deno.Command(path, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}
