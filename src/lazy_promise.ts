/**
 * A promise made only when someone asks for it. A server holds thousands of
 * connections whose `closed` nobody reads until they end; each real pending
 * promise costs its two resolving functions as well.
 *
 * @module
 */

function ignore(): void {}

/**
 * A promise that exists once {@linkcode LazyPromise.promise} is read, or
 * once it settles; until then it holds nothing. Rejections are marked as
 * handled: nobody has to look at it.
 */
export class LazyPromise<T> {
  /** Made when asked for while pending, or when settled before that. */
  #promise: Promise<T> | undefined;
  /** Set while the promise exists and is pending. */
  #resolve: ((value: T) => void) | undefined;
  #reject: ((reason: unknown) => void) | undefined;

  /** The promise, the same one every time. */
  get promise(): Promise<T> {
    if (this.#promise === undefined) {
      const { promise, resolve, reject } = Promise.withResolvers<T>();
      this.#promise = promise;
      this.#resolve = resolve;
      this.#reject = reject;
    }
    return this.#promise;
  }

  /** Fulfils the promise, unless it is already settled. */
  resolve(value: T): void {
    const resolve = this.#resolve;
    if (resolve !== undefined) {
      this.#forgetResolvers();
      resolve(value);
    } else if (this.#promise === undefined) {
      this.#promise = Promise.resolve(value);
    }
  }

  /** Rejects the promise, unless it is already settled. */
  reject(reason: unknown): void {
    const reject = this.#reject;
    if (reject !== undefined) {
      // Marked just before it rejects, so no unobserved rejection is seen.
      this.#promise!.catch(ignore);
      this.#forgetResolvers();
      reject(reason);
    } else if (this.#promise === undefined) {
      this.#promise = Promise.reject(reason);
      this.#promise.catch(ignore);
    }
  }

  #forgetResolvers(): void {
    this.#resolve = undefined;
    this.#reject = undefined;
  }
}
