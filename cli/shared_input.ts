/**
 * Stdin in `--listen` mode, fed to one client after another.
 *
 * @module
 */

import type { Message } from "../src/internal.ts";

/**
 * Messages shared by the clients of one server, one client at a time: each
 * gets a stream of what is left, and a stream cancelled when its client goes
 * leaves the rest, even a message read for it but not taken, to the next.
 * A message a client took but could not send is given back, and is the next
 * one taken. The end of the input is seen while no client is connected too;
 * input that no client has taken yet waits for the next one.
 */
export class SharedInput {
  readonly #reader: ReadableStreamDefaultReader<Message>;
  /** A read started and not yet taken by any client. */
  #next: Promise<ReadableStreamReadResult<Message>> | undefined;

  /** @param input The messages, read only through this object from now on. */
  constructor(input: ReadableStream<Message>) {
    this.#reader = input.getReader();
  }

  /** Whether a message has been read and no client has taken it yet. */
  #holding = false;
  /**
   * The message given back, which comes before `#next`: a client holds one
   * message at a time, so there is never more than one.
   */
  #givenBack: ReadableStreamReadResult<Message> | undefined;

  #peek(): Promise<ReadableStreamReadResult<Message>> {
    if (this.#givenBack !== undefined) return Promise.resolve(this.#givenBack);
    return this.#next ??= this.#reader.read().then((result) => {
      this.#holding = !result.done;
      return result;
    });
  }

  /** Whether input has been read that no client has taken yet. */
  get holding(): boolean {
    return this.#givenBack !== undefined || this.#holding;
  }

  /**
   * Takes back a message a client took but did not send, to be taken again
   * before any other.
   */
  giveBack(message: Message): void {
    this.#givenBack = { done: false, value: message };
  }

  /**
   * Resolves with whether the input is at its end before its next message,
   * without taking that message; rejects if reading fails.
   */
  async atEnd(): Promise<boolean> {
    return (await this.#peek()).done;
  }

  /** A stream of the messages for one client. */
  stream(): ReadableStream<Message> {
    let cancelled = false;
    return new ReadableStream<Message>({
      pull: async (controller) => {
        const result = await this.#peek();
        if (cancelled) return;
        if (result === this.#givenBack) this.#givenBack = undefined;
        else {
          this.#next = undefined;
          this.#holding = false;
        }
        if (result.done) controller.close();
        else controller.enqueue(result.value);
      },
      cancel: () => {
        cancelled = true;
      },
    }, { highWaterMark: 0 });
  }

  /** Stops reading the input, once no client needs it any more. */
  async cancel(): Promise<void> {
    await this.#reader.cancel();
  }
}
