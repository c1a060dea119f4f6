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

/** The deadlines that expire at one time, in the order they were started. */
interface Bucket {
  first: Deadline | undefined;
  last: Deadline | undefined;
}

/**
 * A pending deadline; see {@linkcode startDeadline}. The deadlines of a
 * bucket link to each other, so that starting one allocates nothing but
 * itself and cancelling one is unlinking it: a `Set` per bucket grew and
 * shrank its table as the connections of a busy process came and went.
 */
export class Deadline {
  readonly #onExpire: () => void;
  /** The bucket it is in; `undefined` once cancelled or expired. */
  #bucket: Bucket | undefined;
  #previous: Deadline | undefined;
  #next: Deadline | undefined;

  constructor(bucket: Bucket, onExpire: () => void) {
    this.#onExpire = onExpire;
    this.#bucket = bucket;
    this.#previous = bucket.last;
    this.#next = undefined;
    if (bucket.last === undefined) bucket.first = this;
    else bucket.last.#next = this;
    bucket.last = this;
  }

  /** Cancels the deadline; does nothing once it expired. */
  cancel(): void {
    const bucket = this.#bucket;
    if (bucket === undefined) return;
    this.#bucket = undefined;
    const previous = this.#previous;
    const next = this.#next;
    if (previous === undefined) bucket.first = next;
    else previous.#next = next;
    if (next === undefined) bucket.last = previous;
    else next.#previous = previous;
    this.#previous = undefined;
    this.#next = undefined;
  }

  /**
   * Runs the callbacks of the bucket's deadlines, each taken out first: one
   * that a callback cancels before its turn does not run.
   */
  static expireAll(bucket: Bucket): void {
    let deadline;
    while ((deadline = bucket.first) !== undefined) {
      deadline.cancel();
      deadline.#onExpire();
    }
  }
}

/** Deadlines by the time (on `performance.now()`) they expire at. */
const buckets = new Map<number, Bucket>();
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
    bucket = { first: undefined, last: undefined };
    buckets.set(at, bucket);
  }
  const deadline = new Deadline(bucket, onExpire);
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
  const due: Bucket[] = [];
  let next = Infinity;
  for (const [at, bucket] of buckets) {
    if (at <= now || bucket.first === undefined) {
      buckets.delete(at);
      due.push(bucket);
    } else if (at < next) {
      next = at;
    }
  }
  // Armed before the callbacks run, so that one that throws stops nothing.
  if (next !== Infinity) arm(next);
  for (const bucket of due) Deadline.expireAll(bucket);
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
