/**
 * One connection's life in the tool: input piped to the writable, the
 * readable piped to output, and the close with the user's code.
 *
 * @module
 */

import type { WebSocketOpenInfo, WebSocketStream } from "../mod.ts";
import { WebSocketError } from "../mod.ts";
import { type Counter, countMessages } from "./progress.ts";
import type { Message } from "../src/internal.ts";
import { linesToMessages, messageToBytes } from "./framing.ts";
import { ioFailure } from "./io.ts";
import { describeError } from "../src/internal.ts";

/** The close code and reason the user chose for the closes the tool starts. */
export interface CloseChoice {
  closeCode: number;
  closeReason: string;
}

/** How a connection ended. */
export interface ConnectionEnd {
  /** Whether the closing handshake completed. */
  clean: boolean;
  /** The peer's close code; `null` when the end was not a WebSocketError (an abort). */
  closeCode: number | null;
  reason: string;
  /** For an unclean close, what went wrong. */
  message: string;
}

/** How a connection ended, as the tool reports it. */
export interface SessionEnd extends ConnectionEnd {
  /** Whether the input reached its end during this connection. */
  inputEnded: boolean;
  /** Whether the peer, not the tool, started the close. */
  peerClosed: boolean;
  /** A failure of stdin or stdout, which ended the connection. */
  localError: string | undefined;
}

/** Options of {@linkcode runSession}. */
export interface SessionOptions extends CloseChoice {
  /**
   * After the input ends, how long to wait without a message arriving before
   * closing, in ms: messages that arrive after our Close are dropped.
   */
  lingerMs: number;
  /**
   * The close code sent, with the reason `Cannot <do what>`, when stdin or
   * stdout fails: 1011 for a server; a client may send no such code.
   */
  failureCloseCode: number;
  /** Print messages raw instead of one text message per line. */
  binary: boolean;
  /** Counts the messages written to `output`. */
  received: Counter;
  /** Closes the connection when aborted. */
  stop: AbortSignal | undefined;
  /**
   * Takes a message of `input` that was read but not sent, for a later
   * connection; without it, such a message is dropped with its connection.
   */
  keepUnsent?: ((message: Message) => void) | undefined;
}

/**
 * Stdin as messages: one text message per line, or one binary message per
 * chunk read; each is counted in `sent` as it is taken.
 */
export function inputMessages(
  stdin: ReadableStream<Uint8Array>,
  binary: boolean,
  sent: Counter,
): ReadableStream<Message> {
  const framed: ReadableStream<Message> = binary
    ? stdin
    : stdin.pipeThrough(linesToMessages());
  return framed.pipeThrough(countMessages(sent));
}

/**
 * Pipes `input` (if any) to the connection and the connection to `output`,
 * with backpressure both ways, until the connection ends. The end of `input`
 * closes the connection with the chosen code, as does `options.stop`.
 */
export async function runSession(
  stream: WebSocketStream,
  open: WebSocketOpenInfo,
  input: ReadableStream<Message> | undefined,
  output: WritableStream<Uint8Array>,
  options: SessionOptions,
): Promise<SessionEnd> {
  let closing = false;
  const close = () => {
    closing = true;
    closeAsChosen(stream, options);
  };
  let inputEnded = false;
  let localError: string | undefined;
  // The reason (and, where the role may send it, the code) tells the peer
  // that what it sent may not have reached stdout.
  const failLocally = (
    what: "read stdin" | "write to stdout",
    error: unknown,
  ) => {
    localError ??= ioFailure(what, error);
    closing = true;
    stream.close({
      closeCode: options.failureCloseCode,
      reason: `Cannot ${what}`,
    });
  };
  let lingerTimer: ReturnType<typeof setTimeout> | undefined;
  const closeWhenQuiet = () => {
    clearTimeout(lingerTimer);
    lingerTimer = setTimeout(close, options.lingerMs);
  };
  const stopInput = new AbortController();
  const upload = input && sendInput(
    input,
    open.writable,
    stopInput.signal,
    options.keepUnsent,
  ).then((ended) => {
    if (!ended) return;
    inputEnded = true;
    if (options.lingerMs > 0) closeWhenQuiet();
    else close();
  }, (error) => {
    // A closed connection errors the writable with a DOMException; anything
    // else came from stdin.
    if (error instanceof DOMException) close();
    else failLocally("read stdin", error);
  });

  const writer = output.getWriter();
  const onOutputError = (error: unknown) =>
    failLocally("write to stdout", error);
  let lastWrite: Promise<void> = Promise.resolve();
  const download = open.readable.pipeTo(
    new WritableStream<Message>({
      async write(message) {
        options.received.add(message);
        if (inputEnded && options.lingerMs > 0) closeWhenQuiet();
        // Waiting for `ready` rather than for the write itself keeps the
        // next message queued behind the one being written: half the round
        // trips, and still bounded by stdout's high-water mark.
        await writer.ready;
        lastWrite = writer.write(messageToBytes(message, options.binary));
        lastWrite.catch(onOutputError);
      },
    }),
  ).catch(() => {
    // How the connection ended is told by `closed`.
  }).then(() => lastWrite.catch(() => {})).finally(() => writer.releaseLock());

  const end = await connectionEnd(stream, options, options.stop);
  clearTimeout(lingerTimer);
  stopInput.abort();
  await Promise.all([upload, download]);
  // `stop` closes through connectionEnd.
  const peerClosed = !closing && !options.stop?.aborted;
  return { ...end, inputEnded, peerClosed, localError };
}

/**
 * Writes `input` to `writable` one message at a time, reading the next only
 * once the writable has room, until the input ends (resolves `true`) or
 * `stop` aborts (resolves `false`). Unlike `pipeTo`, it knows which message
 * each write carries: a write that rejects never handed its message to the
 * network, so the message goes to `keepUnsent` rather than being lost.
 */
async function sendInput(
  input: ReadableStream<Message>,
  writable: WritableStream<Message>,
  stop: AbortSignal,
  keepUnsent: ((message: Message) => void) | undefined,
): Promise<boolean> {
  const reader = input.getReader();
  const writer = writable.getWriter();
  // Ends a read still waiting; a shared input keeps what it was to get.
  const cancel = () => void reader.cancel().catch(() => {});
  stop.addEventListener("abort", cancel, { once: true });
  try {
    while (true) {
      await writer.ready;
      const { done, value } = await reader.read();
      if (done) return !stop.aborted;
      try {
        await writer.write(value);
      } catch (error) {
        keepUnsent?.(value);
        throw error;
      }
    }
  } finally {
    stop.removeEventListener("abort", cancel);
    cancel();
    writer.releaseLock();
  }
}

function closeAsChosen(stream: WebSocketStream, choice: CloseChoice): void {
  stream.close({ closeCode: choice.closeCode, reason: choice.closeReason });
}

/**
 * Waits for the connection to end, cleanly or not, closing it with the
 * chosen code and reason once `stop` aborts (at once if it has).
 */
export async function connectionEnd(
  stream: WebSocketStream,
  choice: CloseChoice,
  stop: AbortSignal | undefined,
): Promise<ConnectionEnd> {
  const close = () => closeAsChosen(stream, choice);
  if (stop?.aborted) close();
  stop?.addEventListener("abort", close, { once: true });
  try {
    const { closeCode, reason } = await stream.closed;
    return { clean: true, closeCode, reason, message: "" };
  } catch (error) {
    return error instanceof WebSocketError
      ? {
        clean: false,
        closeCode: error.closeCode,
        reason: error.reason,
        message: error.message,
      }
      : {
        clean: false,
        closeCode: null,
        reason: "",
        message: describeError(error),
      };
  } finally {
    stop?.removeEventListener("abort", close);
  }
}

/** `1000 "bye"`, or `1006` without a reason. */
export function formatClose(closeCode: number | null, reason: string): string {
  const code = closeCode === null ? "no close code" : `${closeCode}`;
  return reason === "" ? code : `${code} ${JSON.stringify(reason)}`;
}

/**
 * The line to print for how a connection ended: `closed: 1000 "bye"` or
 * `closed uncleanly: 1006: ...`.
 */
export function describeEnd(end: ConnectionEnd): string {
  return end.clean
    ? `closed: ${formatClose(end.closeCode, end.reason)}`
    : `closed uncleanly: ${
      formatClose(end.closeCode, end.reason)
    }: ${end.message}`;
}
