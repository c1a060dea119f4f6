/**
 * Waiting for a WebSocket's `bufferedAmount` to fall, which no event
 * announces. A timer costs about 2 ms in Deno even at 0 ms, which alone would
 * halve bulk throughput, while a `MessageChannel` turn costs about 20 µs but
 * burns CPU when the peer is stalled. So the waiter measures how fast the
 * buffer drains and picks: message-channel turns while the wait is expected to
 * be short, a timer sized to the expected wait when it is long, and a backing-off
 * timer while nothing drains at all.
 *
 * @module
 */

/** The part of a `WebSocket` the waiter reads. */
export interface BufferedSocket {
  readonly bufferedAmount: number;
  readonly readyState: number;
}

const OPEN = 1;
/** Waits shorter than this are made of event-loop turns, not timers. */
const TURN_THRESHOLD_MS = 3;
/**
 * A socket whose buffer did not fall for this long is stalled, and the waiter
 * moves to its backing-off sleeps (the shortest are still turns, the rest
 * timers): turns spent on a socket that does not drain take a core from
 * everything else, a local peer included, which on a busy machine slowed the
 * very transfer they waited for. Deno's buffer falls between turns by a frame
 * or all at once, so a socket that drains shows it within a turn or two;
 * spinning longer only waits for a peer that is not reading.
 */
const STALL_MS = 0.1;
/** The longest a stalled socket goes unchecked. */
const MAX_SLEEP_MS = 25;

/** Waits, one at a time, until a socket's buffer has room again. */
export class DrainWaiter {
  #wake: (() => void) | undefined;
  #stopped = false;
  /** Made by the first turn and kept until {@linkcode stop}: one per connection. */
  #channel: MessageChannel | undefined;

  /**
   * Resolves `true` once `socket.bufferedAmount` is at most `limit`, or
   * `false` once the socket is no longer open or {@linkcode stop} was called.
   */
  async wait(socket: BufferedSocket, limit: number): Promise<boolean> {
    let previous = socket.bufferedAmount;
    let previousTime = performance.now();
    let stalledSleep = 1;
    while (!this.#stopped && socket.readyState === OPEN) {
      const buffered = socket.bufferedAmount;
      if (buffered <= limit) return true;
      const now = performance.now();
      let delay: number;
      if (buffered < previous) {
        const bytesPerMs = (previous - buffered) /
          Math.max(now - previousTime, 0.001);
        delay = (buffered - limit) / bytesPerMs;
        stalledSleep = 1;
        previous = buffered;
        previousTime = now;
      } else if (now - previousTime < STALL_MS) {
        delay = 0;
      } else {
        delay = stalledSleep;
        stalledSleep = Math.min(stalledSleep * 2, MAX_SLEEP_MS);
      }
      await (delay < TURN_THRESHOLD_MS
        ? this.#nextTurn()
        : this.#sleep(Math.min(delay, MAX_SLEEP_MS)));
    }
    return false;
  }

  /** Ends the current wait and any later one: the connection is over. */
  stop(): void {
    this.#stopped = true;
    this.#wake?.();
    this.#channel?.port1.close();
    this.#channel?.port2.close();
    this.#channel = undefined;
  }

  #nextTurn(): Promise<void> {
    if (this.#channel === undefined) {
      this.#channel = new MessageChannel();
      this.#channel.port1.onmessage = () => this.#wake?.();
    }
    const channel = this.#channel;
    return new Promise((resolve) => {
      this.#wake = resolve;
      channel.port2.postMessage(null);
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
