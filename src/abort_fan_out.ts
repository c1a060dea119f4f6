/**
 * One `abort` listener per signal for any number of streams. Deno's
 * `AbortSignal` looks through its listeners at every add and remove, so a
 * listener per stream made each connection that shares a signal slower the
 * more others were listening: quadratic in the connections.
 *
 * @module
 */

/**
 * What to do for each entry of a signal when it aborts, with its entries kept
 * by signal: `onAbort(value, key)` runs once per entry still registered, in
 * the order they were added. It must not throw: the entries after one that
 * threw would be skipped.
 */
export class AbortFanOut<K, V> {
  readonly #entries = new WeakMap<AbortSignal, Map<K, V>>();
  readonly #onAbort: (value: V, key: K) => void;

  constructor(onAbort: (value: V, key: K) => void) {
    this.#onAbort = onAbort;
  }

  /**
   * Registers `key` with `value` until `signal` aborts or the returned
   * function is called. The signal must not be aborted yet.
   */
  add(signal: AbortSignal, key: K, value: V): () => void {
    let entries = this.#entries.get(signal);
    if (entries === undefined) {
      const registered = entries = new Map<K, V>();
      this.#entries.set(signal, registered);
      signal.addEventListener("abort", () => {
        this.#entries.delete(signal);
        registered.forEach(this.#onAbort);
        registered.clear();
      }, { once: true });
    }
    entries.set(key, value);
    return () => entries.delete(key);
  }
}
