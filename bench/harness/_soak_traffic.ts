/**
 * The traffic of `deno task soak`, run by both ends: a writer sending at a
 * steady rate (waiting on backpressure) and a slow reader that stops for a
 * while every few seconds, so the receive queue fills and drains over and
 * over without reaching its limit.
 *
 * @module
 */

import type { WebSocketOpenInfo, WebSocketStream } from "../../mod.ts";

/** Counters shared by every connection of one process. */
export interface TrafficTally {
  sent: number;
  received: number;
  errors: number;
}

/** The shape of the traffic. */
export const SOAK_TRAFFIC = {
  /** Bytes in each message. */
  messageBytes: 32 * 1024,
  /** Pause between writes, in ms. */
  writeIntervalMs: 20,
  /** The reader stops for `readerPauseMs` every `readerPeriodMs`. */
  readerPeriodMs: 2000,
  readerPauseMs: 500,
} as const;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs the traffic on one open connection until it ends (the client closes
 * it), counting messages and errors in `tally`.
 */
export async function soakTraffic(
  stream: WebSocketStream,
  { readable, writable }: WebSocketOpenInfo,
  tally: TrafficTally,
): Promise<void> {
  const { messageBytes, writeIntervalMs, readerPeriodMs, readerPauseMs } =
    SOAK_TRAFFIC;
  let reading = true;
  const write = async () => {
    const writer = writable.getWriter();
    const message = new Uint8Array(messageBytes);
    try {
      while (reading) {
        await writer.write(message);
        tally.sent++;
        await sleep(writeIntervalMs);
      }
    } catch {
      // The connection closed under the writer: the end of the soak.
    }
  };
  const read = async () => {
    let nextPause = performance.now() + readerPeriodMs;
    try {
      for await (const _message of readable) {
        tally.received++;
        if (performance.now() >= nextPause) {
          await sleep(readerPauseMs);
          nextPause = performance.now() + readerPeriodMs;
        }
      }
    } catch {
      tally.errors++;
    } finally {
      reading = false;
    }
  };
  await Promise.all([write(), read()]);
  await stream.closed.catch(() => tally.errors++);
}
