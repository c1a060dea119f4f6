/**
 * Turning stdin into messages and messages into stdout bytes, in line mode
 * and in binary mode.
 *
 * @module
 */

import type { Message } from "../src/internal.ts";

/**
 * The longest line line mode holds while waiting for its newline: past it the
 * input is not lines, and buffering it would make memory grow with the input.
 */
const MAX_LINE_LENGTH = 16 * 1024 * 1024;

const encoder = new TextEncoder();

/**
 * Splits UTF-8 text into lines without their `\n` (or `\r\n`), one message
 * each. A last line without a newline is sent too; bytes that are not UTF-8
 * are an error.
 */
export function linesToMessages(): ReadableWritablePair<string, Uint8Array> {
  let pending = "";
  const splitter = new TransformStream<string, string>({
    transform(text, controller) {
      // Only the new text is searched: splitting what is pending again at
      // every chunk would cost a long line time quadratic in its length.
      let newline = text.indexOf("\n");
      if (newline === -1) {
        pending += text;
      } else {
        controller.enqueue(
          stripCarriageReturn(pending + text.slice(0, newline)),
        );
        let start = newline + 1;
        while ((newline = text.indexOf("\n", start)) !== -1) {
          controller.enqueue(stripCarriageReturn(text.slice(start, newline)));
          start = newline + 1;
        }
        pending = text.slice(start);
      }
      if (pending.length > MAX_LINE_LENGTH) {
        throw new RangeError(
          `a line is longer than ${MAX_LINE_LENGTH} characters; use --binary for data that is not lines`,
        );
      }
    },
    flush(controller) {
      if (pending !== "") controller.enqueue(stripCarriageReturn(pending));
    },
  });
  const decoder = utf8Decoder();
  return {
    writable: decoder.writable,
    readable: decoder.readable.pipeThrough(splitter),
  };
}

/**
 * Decodes UTF-8 and fails on anything else: a text message cannot carry
 * other bytes, and replacing them would change the data without a word.
 */
function utf8Decoder(): TransformStream<Uint8Array, string> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const decode = (bytes?: Uint8Array) => {
    try {
      return bytes === undefined
        ? decoder.decode()
        : decoder.decode(bytes, { stream: true });
    } catch {
      throw new TypeError(
        "not UTF-8 text; use --binary for data that is not lines",
      );
    }
  };
  return new TransformStream({
    transform(bytes, controller) {
      const text = decode(bytes);
      if (text !== "") controller.enqueue(text);
    },
    flush(controller) {
      const text = decode();
      if (text !== "") controller.enqueue(text);
    },
  });
}

function stripCarriageReturn(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

/** Turns a received message into the bytes printed for it. */
export function messageToBytes(message: Message, binary: boolean): Uint8Array {
  if (typeof message !== "string") return message;
  return encoder.encode(binary ? message : `${message}\n`);
}
