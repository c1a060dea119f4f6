/**
 * Bench servers run in a child process of their own, so that the client's
 * figures never include the server's work.
 *
 * @module
 */

/** A server process that prints `{"port":N}` once it listens. */
export interface ChildServer {
  /** `ws://127.0.0.1:PORT` */
  url: string;
  port: number;
  pid: number;
  /** Closes the server's stdin, which makes it exit, and waits for it. */
  stop(): Promise<void>;
}

/** Starts `script` with `args` and waits for it to report its port. */
export async function startChildServer(
  script: URL,
  args: string[],
): Promise<ChildServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--v8-flags=--expose-gc",
      script.pathname,
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`${script.pathname} exited before listening`);
    text += value;
  }
  lines.releaseLock();
  child.stdout.cancel().catch(() => {});
  const { port } = JSON.parse(text) as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    stop: async () => {
      await child.stdin.close();
      await child.status;
    },
  };
}
