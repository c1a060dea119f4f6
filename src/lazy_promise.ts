/**
 * A promise made only when someone asks for it. A server holds thousands of
 * connections whose `closed` nobody reads until they end; each real pending
 * promise costs its two resolving functions as well.
 *
 * @module
 */

const PENDING = 0;
const FULFILLED = 1;
const REJECTED = 2;

function ignore(): void {}

/**
 * A promise that exists once {@linkcode LazyPromise.promise} is read; until
 * then settling it only records the outcome. Rejections are marked as
 * handled: nobody has to look at it.
 */
export class LazyPromise<T> {
  #promise: Promise<T> | undefined;
  #resolve: ((value: T) => void) | undefined;
  #reject: ((reason: unknown) => void) | undefined;
  #state: typeof PENDING | typeof FULFILLED | typeof REJECTED = PENDING;
  #result: unknown;

  /** The promise, the same one every time. */
  get promise(): Promise<T> {
    if (this.#promise !== undefined) return this.#promise;
    if (this.#state === FULFILLED) {
      this.#promise = Promise.resolve(this.#result as T);
    } else if (this.#state === REJECTED) {
      this.#promise = Promise.reject(this.#result);
      this.#promise.catch(ignore);
    } else {
      const { promise, resolve, reject } = Promise.withResolvers<T>();
      this.#promise = promise;
      this.#resolve = resolve;
      this.#reject = reject;
    }
    return this.#promise;
  }

  /** Fulfils the promise, unless it is already settled. */
  resolve(value: T): void {
    if (this.#state !== PENDING) return;
    this.#state = FULFILLED;
    if (this.#resolve === undefined) this.#result = value;
    else this.#resolve(value);
    this.#forgetResolvers();
  }

  /** Rejects the promise, unless it is already settled. */
  reject(reason: unknown): void {
    if (this.#state !== PENDING) return;
    this.#state = REJECTED;
    if (this.#reject === undefined) {
      this.#result = reason;
    } else {
      // Marked just before it rejects, so no unobserved rejection is seen.
      this.#promise!.catch(ignore);
      this.#reject(reason);
    }
    this.#forgetResolvers();
  }

  #forgetResolvers(): void {
    this.#resolve = undefined;
    this.#reject = undefined;
  }
}
