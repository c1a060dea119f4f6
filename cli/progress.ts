/**
 * Live transfer figures on stderr, for a terminal.
 *
 * @module
 */

import { type Message, messageSize } from "../src/internal.ts";

/** Bytes and messages that went one way. */
export class Counter {
  /** Messages counted. */
  messages = 0;
  /** Their bytes (UTF-16 code units for text). */
  bytes = 0;

  /** Counts one message. */
  add(message: Message): void {
    this.messages++;
    this.bytes += messageSize(message);
  }
}

/** A pass-through that counts every message going by in `counter`. */
export function countMessages(
  counter: Counter,
): TransformStream<Message, Message> {
  return new TransformStream({
    transform(message, controller) {
      counter.add(message);
      controller.enqueue(message);
    },
  });
}

/** Formats a byte count the way people read it: `1.5 MiB`. */
function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The progress line for what was sent and received after `seconds`. */
function formatProgress(
  sent: Counter,
  received: Counter,
  seconds: number,
): string {
  const rate = (sent.bytes + received.bytes) / Math.max(seconds, 0.001);
  return `sent ${formatBytes(sent.bytes)} in ${sent.messages} messages, ` +
    `received ${
      formatBytes(received.bytes)
    } in ${received.messages} messages, ` +
    `${formatBytes(rate)}/s`;
}

const INTERVAL_MS = 1000;

/**
 * Rewrites one progress line on stderr every second until stopped, then ends
 * it with a newline so later messages start on their own line.
 */
export class ProgressLine {
  readonly sent: Counter = new Counter();
  readonly received: Counter = new Counter();
  readonly #write: (text: string) => void;
  readonly #start = performance.now();
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param write Writes to stderr.
   * @param enabled Whether to show anything at all: stderr is a terminal and
   *   the user did not ask for quiet.
   */
  constructor(write: (text: string) => void, enabled: boolean) {
    this.#write = write;
    if (enabled) {
      this.#timer = setInterval(() => this.#draw(), INTERVAL_MS);
    }
  }

  /** Stops redrawing; draws a final line if any was drawn. */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.sent.messages + this.received.messages > 0) {
      this.#draw();
      this.#write("\n");
    }
  }

  #draw(): void {
    const seconds = (performance.now() - this.#start) / 1000;
    // "\r" and "erase to end of line" redraw in place on a terminal.
    this.#write(
      `\r${formatProgress(this.sent, this.received, seconds)}\x1b[K`,
    );
  }
}
