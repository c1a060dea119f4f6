/**
 * A real `redis-server` for a test: on loopback, on a free port, in a
 * temporary directory, persisting nothing; stopped (and restarted on the same
 * port) at will, removed on dispose.
 *
 * @module
 */

/** A running (or stopped) redis-server owned by a test. */
export class RedisServer implements AsyncDisposable {
  readonly port: number;
  readonly #path: string;
  readonly #dir: string;
  #child: Deno.ChildProcess | undefined;

  private constructor(path: string, port: number, dir: string) {
    this.#path = path;
    this.port = port;
    this.#dir = dir;
  }

  /** Starts `redis-server` (the executable at `path`) on a free port. */
  static async start(path: string): Promise<RedisServer> {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr;
    listener.close();
    const dir = await Deno.makeTempDir({ prefix: "hub-redis-" });
    const server = new RedisServer(path, port, dir);
    await server.restart();
    return server;
  }

  /** The URL clients connect to. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Kills the server at once (`SIGKILL`), as a crash would. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    child.kill("SIGKILL");
    await child.status;
  }

  /**
   * Stops the server in its tracks (`SIGSTOP`): its connections stay open
   * and nothing is answered, as with a Redis that is busy, until
   * {@linkcode resume}.
   */
  pause(): void {
    this.#child?.kill("SIGSTOP");
  }

  /** Lets a paused server go on (`SIGCONT`). */
  resume(): void {
    this.#child?.kill("SIGCONT");
  }

  /** Starts the server again on the same port, once it accepts commands. */
  async restart(): Promise<void> {
    await this.kill();
    const child = new Deno.Command(this.#path, {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        this.#dir,
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#child = child;
    for (let attempt = 0; attempt < 200; attempt++) {
      if (await this.#answersPing()) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`Cannot start redis-server: no PONG on port ${this.port}`);
  }

  async #answersPing(): Promise<boolean> {
    try {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: this.port,
      });
      try {
        await conn.write(new TextEncoder().encode("PING\r\n"));
        const buffer = new Uint8Array(16);
        const read = await conn.read(buffer);
        return new TextDecoder().decode(buffer.subarray(0, read ?? 0))
          .startsWith("+PONG");
      } finally {
        conn.close();
      }
    } catch {
      return false;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
    await Deno.remove(this.#dir, { recursive: true });
  }
}

/**
 * A Redis for a test that neither stops nor restarts it: the one `.ci/run`
 * started when `REDIS_URL` is set, or else a new one of the test's own.
 */
export async function shareOrStartRedis(
  path: string,
): Promise<{ url: string } & AsyncDisposable> {
  const url = Deno.env.get("REDIS_URL");
  if (url === undefined) return await RedisServer.start(path);
  return { url, [Symbol.asyncDispose]: () => Promise.resolve() };
}
