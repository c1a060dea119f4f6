/**
 * JSON messages through `TransformStream`s: objects are serialized on the way
 * into `writable` and parsed on the way out of `readable`, and the server is
 * one chain of `pipeThrough` calls.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 examples/json_messages.ts
 * ```
 *
 * @module
 */

import { upgradeWebSocketStream, WebSocketStream } from "../mod.ts";

/** Serializes each value as one text message. */
export function jsonStringify<T>(): TransformStream<T, string> {
  return new TransformStream({
    transform(value, controller) {
      controller.enqueue(JSON.stringify(value));
    },
  });
}

/** Parses each text message as JSON; a binary message is an error. */
export function jsonParse<T>(): TransformStream<string | Uint8Array, T> {
  return new TransformStream({
    transform(message, controller) {
      if (typeof message !== "string") {
        throw new TypeError(
          "Expected a text message with JSON, received binary",
        );
      }
      controller.enqueue(JSON.parse(message));
    },
  });
}

/** What the client sends. */
export interface Question {
  n: number;
}

/** What the server answers. */
export interface Answer {
  n: number;
  square: number;
}

/** Answers every question with its square, as a stream pipeline. */
export function startSquareServer(): { url: string; close(): Promise<void> } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const { response, stream } = upgradeWebSocketStream(request);
      stream?.opened.then(({ readable, writable }) =>
        readable
          .pipeThrough(jsonParse<Question>())
          .pipeThrough(
            new TransformStream<Question, Answer>({
              transform: ({ n }, controller) =>
                controller.enqueue({ n, square: n * n }),
            }),
          )
          .pipeThrough(jsonStringify())
          .pipeTo(writable)
      ).catch(() => {
        // The client went away or sent something that is not JSON.
      });
      return response;
    },
  );
  return {
    url: `ws://127.0.0.1:${server.addr.port}/`,
    close: () => server.shutdown(),
  };
}

/** Sends `questions` to `url` and collects one answer for each. */
export async function ask(
  url: string,
  questions: readonly Question[],
): Promise<Answer[]> {
  const wss = new WebSocketStream(url);
  const { readable, writable } = await wss.opened;
  // preventClose: closing the writable would close the connection before
  // the answers are in.
  const sending = ReadableStream.from(questions)
    .pipeThrough(jsonStringify())
    .pipeTo(writable, { preventClose: true });
  const answers: Answer[] = [];
  for await (const answer of readable.pipeThrough(jsonParse<Answer>())) {
    answers.push(answer);
    if (answers.length === questions.length) {
      wss.close({ closeCode: 1000, reason: "all answered" });
      break;
    }
  }
  await sending;
  await wss.closed;
  return answers;
}

if (import.meta.main) {
  const server = startSquareServer();
  try {
    const answers = await ask(server.url, [{ n: 2 }, { n: 3 }, { n: 12 }]);
    for (const answer of answers) console.log(JSON.stringify(answer));
  } finally {
    await server.close();
  }
}
