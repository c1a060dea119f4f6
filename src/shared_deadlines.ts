/**
 * Deadlines that share one timer for the whole process, for the closing
 * handshake's timeout: nearly every one is cancelled, when the peer's Close
 * arrives, and a `setTimeout`/`clearTimeout` pair per close costs more than
 * the rest of closing (Deno runs them through its Node-compatible timers).
 * Deadlines are rounded up to {@linkcode GRAIN_MS} and kept in buckets by
 * that time; cancelling one only takes it out of its bucket. The timer is
 * armed for the earliest bucket and left to run out when its deadlines are
 * cancelled, then re-armed for what is left.
 *
 * The timer does not hold the process open (it is unref'd where the runtime
 * can): a connection that is closing holds it open by itself, as its socket
 * still waits for the peer's Close.
 *
 * @module
 */

/** How far a deadline may run late: deadlines within it share a bucket. */
const GRAIN_MS = 10;

/** A pending deadline; see {@linkcode startDeadline}. */
export class Deadline {
  readonly #bucket: Set<Deadline>;
  readonly #onExpire: () => void;

  constructor(bucket: Set<Deadline>, onExpire: () => void) {
    this.#bucket = bucket;
    this.#onExpire = onExpire;
  }

  /** Cancels the deadline; does nothing once it expired. */
  cancel(): void {
    this.#bucket.delete(this);
  }

  /** Runs the callback: called once, by the shared timer. */
  expire(): void {
    this.#onExpire();
  }
}

/** Deadlines by the time (on `performance.now()`) they expire at. */
const buckets = new Map<number, Set<Deadline>>();
let timer: ReturnType<typeof setTimeout> | undefined;
/** When the timer is armed for, `Infinity` when it is not. */
let timerAt = Infinity;

/**
 * Calls `onExpire` after `ms` milliseconds (up to {@linkcode GRAIN_MS}
 * later), unless the returned deadline is cancelled first.
 */
export function startDeadline(ms: number, onExpire: () => void): Deadline {
  const at = Math.ceil((performance.now() + ms) / GRAIN_MS) * GRAIN_MS;
  let bucket = buckets.get(at);
  if (bucket === undefined) {
    bucket = new Set();
    buckets.set(at, bucket);
  }
  const deadline = new Deadline(bucket, onExpire);
  bucket.add(deadline);
  arm(at);
  return deadline;
}

/** Makes sure the timer runs by `at`. */
function arm(at: number): void {
  if (at >= timerAt) return;
  if (timer !== undefined) clearTimeout(timer);
  timerAt = at;
  timer = setTimeout(expireDue, Math.max(0, at - performance.now()));
  unref(timer);
}

/** Runs the deadlines that are due and re-arms for the earliest left. */
function expireDue(): void {
  timer = undefined;
  timerAt = Infinity;
  const now = performance.now();
  const due: Set<Deadline>[] = [];
  let next = Infinity;
  for (const [at, bucket] of buckets) {
    if (at <= now || bucket.size === 0) {
      buckets.delete(at);
      due.push(bucket);
    } else if (at < next) {
      next = at;
    }
  }
  // Armed before the callbacks run, so that one that throws stops nothing.
  if (next !== Infinity) arm(next);
  for (const bucket of due) {
    for (const deadline of bucket) deadline.expire();
  }
}

/** Lets the process end while the timer is pending, where it can. */
function unref(handle: ReturnType<typeof setTimeout>): void {
  // Deno 2.9 and Node return an object with `unref`; older Deno a number.
  if (typeof handle === "object" && handle !== null) {
    (handle as { unref?: () => void }).unref?.();
    return;
  }
  const deno = (globalThis as {
    Deno?: { unrefTimer?: (id: number) => void };
  }).Deno;
  if (typeof handle === "number") deno?.unrefTimer?.(handle);
}
