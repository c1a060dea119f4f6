/**
 * The permessage-deflate codec from plain bytes: round trips between our two
 * roles with every context and window setting, our output read by
 * `node:zlib`'s one-shot inflate and by npm `ws`, `ws`'s output read by us,
 * an inflate bomb stopped at the limit with memory bounded, invalid data,
 * the threshold, and order under concurrency.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import {
  DeflateCodec,
  InflateError,
} from "../src/socket/permessage_deflate_codec.ts";
import type { DeflateParameters } from "../src/socket/permessage_deflate_negotiation.ts";
import { viaWs, WsPerMessageDeflate } from "./_ws_permessage_deflate.ts";

const TAIL = [0x00, 0x00, 0xff, 0xff];
const encoder = new TextEncoder();

/** Chat-like JSON messages that share most of their text. */
function chatMessage(index: number): Uint8Array {
  return encoder.encode(JSON.stringify({
    type: "message",
    room: "general",
    user: { id: 1000 + (index % 7), name: `user-${index % 7}` },
    text: `Message ${index}: the quick brown fox jumps over the lazy dog. `
      .repeat(
        20 + (index % 5),
      ),
    sentAt: new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString(),
  }));
}

function parameters(
  overrides: Partial<DeflateParameters> = {},
): DeflateParameters {
  return {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    ...overrides,
  };
}

/** Every context setting with every window size on one side or the other. */
function* everyParameterSet(): Generator<DeflateParameters> {
  for (const serverNoContextTakeover of [false, true]) {
    for (const clientNoContextTakeover of [false, true]) {
      for (let bits = 8; bits <= 15; bits++) {
        yield parameters({
          serverNoContextTakeover,
          clientNoContextTakeover,
          serverMaxWindowBits: bits,
          clientMaxWindowBits: 23 - bits,
        });
      }
    }
  }
}

function withTail(payload: Uint8Array): Uint8Array {
  return new Uint8Array([...payload, ...TAIL]);
}

async function compressAll(
  codec: DeflateCodec,
  messages: Uint8Array[],
): Promise<Uint8Array[]> {
  return await Promise.all(
    messages.map(async (message) => {
      const payload = await codec.compress(message);
      assert.ok(payload !== undefined);
      return payload;
    }),
  );
}

Deno.test("round trip: client to server and back with every context and window setting", async () => {
  const messages = Array.from({ length: 6 }, (_, i) => chatMessage(i));
  // Hex digits shrink only to about half alone, but to a reference to the
  // earlier copy when the context holds it.
  const token = encoder.encode(
    Array.from(
      crypto.getRandomValues(new Uint8Array(600)),
      (byte) => byte.toString(16).padStart(2, "0"),
    ).join(""),
  );
  for (const agreed of everyParameterSet()) {
    const client = new DeflateCodec(agreed, "client");
    const server = new DeflateCodec(agreed, "server");
    for (
      const [from, to, resets] of [
        [client, server, agreed.clientNoContextTakeover],
        [server, client, agreed.serverNoContextTakeover],
      ] as const
    ) {
      const payloads = await compressAll(from, messages);
      for (const [i, payload] of payloads.entries()) {
        assert.ok(payload.byteLength < messages[i]!.byteLength / 3);
        assert.deepEqual(
          await to.inflate(payload, true, Infinity),
          messages[i],
        );
      }
      // The same message again: with the context kept, it is a reference to
      // what came before; reset, it compresses exactly as the first time.
      // (Windows of 256 to 1024 bytes hold too little of it to tell.)
      const [first, again] = await compressAll(from, [token, token]);
      const senderBits = from === client
        ? agreed.clientMaxWindowBits
        : agreed.serverMaxWindowBits;
      if (resets) assert.deepEqual(again, first);
      else if (senderBits >= 11) {
        assert.ok(again!.byteLength < first!.byteLength / 4);
      }
      for (const payload of [first!, again!]) {
        assert.deepEqual(
          await to.inflate(payload, true, Infinity),
          token,
        );
      }
    }
    client.close();
    server.close();
  }
});

Deno.test("round trip: a message split into many frames, each inflated as it comes", async () => {
  const agreed = parameters();
  const sender = new DeflateCodec(agreed, "server");
  const receiver = new DeflateCodec(agreed, "client");
  const message = encoder.encode(
    Array.from({ length: 300 }, (_, i) => `line ${i}: ${"x".repeat(i % 50)}`)
      .join("\n"),
  );
  for (const frameBytes of [1, 7, 100]) {
    const payload = (await sender.compress(message))!;
    const parts: Uint8Array[] = [];
    for (let at = 0; at < payload.byteLength; at += frameBytes) {
      const fin = at + frameBytes >= payload.byteLength;
      const part = await receiver.inflate(
        payload.subarray(at, at + frameBytes),
        fin,
        Infinity,
      );
      assert.ok(part instanceof Uint8Array);
      parts.push(part);
    }
    assert.deepEqual(new Uint8Array(Buffer.concat(parts)), message);
  }
  sender.close();
  receiver.close();
});

Deno.test("interop: node:zlib's one-shot inflate reads our output, with the tail put back", async () => {
  const messages = Array.from({ length: 4 }, (_, i) => chatMessage(i));
  for (const resets of [true, false]) {
    const codec = new DeflateCodec(
      parameters({ clientNoContextTakeover: resets, clientMaxWindowBits: 10 }),
      "client",
    );
    const payloads = await compressAll(codec, messages);
    if (resets) {
      for (const [i, payload] of payloads.entries()) {
        assert.deepEqual(
          new Uint8Array(inflateRawSync(withTail(payload), {
            windowBits: 10,
            finishFlush: constants.Z_SYNC_FLUSH,
          })),
          messages[i],
        );
      }
    } else {
      // One context across messages: the stream is their concatenation.
      const stream = Buffer.concat(payloads.map(withTail));
      assert.deepEqual(
        new Uint8Array(
          inflateRawSync(stream, {
            windowBits: 10,
            finishFlush: constants.Z_SYNC_FLUSH,
          }),
        ),
        new Uint8Array(Buffer.concat(messages)),
      );
    }
    codec.close();
  }
});

Deno.test("interop: a sender that ends each message with a final block (BFINAL) is read", async () => {
  const codec = new DeflateCodec(
    parameters({ serverNoContextTakeover: true }),
    "client",
  );
  for (const message of [chatMessage(1), chatMessage(2)]) {
    const payload = deflateRawSync(message);
    assert.deepEqual(await codec.inflate(payload, true, Infinity), message);
  }
  codec.close();
});

Deno.test("interop: npm ws's PerMessageDeflate reads ours and we read its, every parameter set", async () => {
  const messages = Array.from({ length: 4 }, (_, i) => chatMessage(i));
  for (const agreed of everyParameterSet()) {
    const wsParams = [{
      server_no_context_takeover: agreed.serverNoContextTakeover,
      client_no_context_takeover: agreed.clientNoContextTakeover,
      server_max_window_bits: [String(agreed.serverMaxWindowBits)],
      client_max_window_bits: [String(agreed.clientMaxWindowBits)],
    }].map((params) =>
      Object.fromEntries(
        Object.entries(params).flatMap(([name, value]) =>
          value === false ? [] : [[name, value === true ? [true] : value]]
        ),
      )
    );
    for (const role of ["client", "server"] as const) {
      const ours = new DeflateCodec(agreed, role);
      const theirs = new WsPerMessageDeflate({ isServer: role === "client" });
      theirs.accept(structuredClone(wsParams));
      for (const message of messages) {
        const payload = (await ours.compress(message))!;
        assert.deepEqual(
          await viaWs(theirs.decompress.bind(theirs), payload, true),
          message,
        );
        const reply = await viaWs(theirs.compress.bind(theirs), message, true);
        assert.deepEqual(await ours.inflate(reply, true, Infinity), message);
      }
      ours.close();
      theirs.cleanup();
    }
  }
});

Deno.test("empty messages: each compresses to a payload npm ws reads, between others and in a row, keeping the context", async () => {
  const messages = [
    new Uint8Array(0),
    chatMessage(0),
    new Uint8Array(0),
    new Uint8Array(0),
    chatMessage(1),
  ];
  for (const role of ["client", "server"] as const) {
    const ours = new DeflateCodec(parameters(), role);
    const theirs = new WsPerMessageDeflate({ isServer: role === "client" });
    theirs.accept([{}]);
    for (const message of messages) {
      const payload = (await ours.compress(message))!;
      // RFC 7692, section 7.2.3.6: at least an empty block, 0x00.
      assert.ok(payload.byteLength > 0, "an empty payload");
      assert.deepEqual(
        await viaWs(theirs.decompress.bind(theirs), payload, true),
        message,
      );
    }
    ours.close();
    theirs.cleanup();
  }
});

/** Compresses `message` as the server would, on a codec of its own. */
async function compressOnce(
  message: Uint8Array,
  agreed = parameters(),
): Promise<Uint8Array> {
  const codec = new DeflateCodec(agreed, "server");
  try {
    return (await codec.compress(message))!;
  } finally {
    codec.close();
  }
}

/** 1 GiB of zeros as one compressed message, about 1 MiB of payload. */
async function createBomb(): Promise<Uint8Array> {
  const codec = new DeflateCodec(parameters(), "server");
  const zeros = new Uint8Array(64 * 1024 * 1024);
  // Sixteen sync-flushed pieces of one context read as one message.
  const payloads = await Promise.all(
    Array.from({ length: 16 }, () => codec.compress(zeros)),
  );
  codec.close();
  return new Uint8Array(Buffer.concat(payloads as Uint8Array[]));
}

Deno.test("inflate bomb: stops at the limit with memory bounded, in one frame or many", async () => {
  const bomb = await createBomb();
  assert.ok(bomb.byteLength < 2 * 1024 * 1024);
  const limit = 16 * 1024 * 1024;
  const before = Deno.memoryUsage().rss;
  const whole = new DeflateCodec(parameters(), "client");
  assert.equal(await whole.inflate(bomb, true, limit), "overflow");
  // Across frames, each frame gets what the message has left.
  const framed = new DeflateCodec(parameters(), "client");
  let left = limit;
  let outcome: Uint8Array | "overflow" | undefined;
  for (let at = 0; at < bomb.byteLength; at += 4096) {
    outcome = await framed.inflate(
      bomb.subarray(at, at + 4096),
      at + 4096 >= bomb.byteLength,
      left,
    );
    if (outcome === "overflow") break;
    left -= outcome.byteLength;
  }
  assert.equal(outcome, "overflow");
  assert.ok(left >= 0);
  const grown = (Deno.memoryUsage().rss - before) / 2 ** 20;
  assert.ok(grown < 256, `RSS grew ${grown.toFixed(0)} MiB`);
  whole.close();
  framed.close();
});

Deno.test("inflate limit: a message of exactly the limit inflates, one byte more overflows", async () => {
  const size = 1024 * 1024;
  const payload = await compressOnce(new Uint8Array(size));
  const codec = new DeflateCodec(
    parameters({ serverNoContextTakeover: true }),
    "client",
  );
  assert.deepEqual(
    await codec.inflate(payload, true, size),
    new Uint8Array(size),
  );
  assert.equal(await codec.inflate(payload, true, size - 1), "overflow");
  // Without context takeover, the next message starts afresh anyway.
  const message = chatMessage(3);
  assert.deepEqual(
    await codec.inflate(await compressOnce(message), true, size),
    message,
  );
  codec.close();
});

Deno.test("invalid data: an InflateError for garbage, a reserved block type and a broken stored block", async () => {
  for (
    const payload of [
      new Uint8Array([0xff, 0xff, 0xff, 0xff]),
      // A final block of the reserved type 3.
      new Uint8Array([0x07, 0x00]),
      // A stored block whose length and its complement disagree.
      new Uint8Array([0x00, 0x05, 0x00, 0x00, 0x00, 0x41]),
    ]
  ) {
    const codec = new DeflateCodec(parameters(), "client");
    await assert.rejects(
      codec.inflate(payload, true, Infinity),
      (error: unknown) => {
        assert.ok(error instanceof InflateError, String(error));
        assert.notEqual(error.message, "");
        return true;
      },
    );
    codec.close();
  }
});

Deno.test("threshold: shorter messages are not compressed, and incompressible ones pause compression", async () => {
  // With context takeover every message is compressed by default; without
  // it, messages from 1 KiB on; a threshold given applies either way.
  const codec = new DeflateCodec(parameters(), "client");
  assert.equal(codec.shouldCompress(1), true);
  const resetting = new DeflateCodec(
    parameters({ clientNoContextTakeover: true }),
    "client",
  );
  assert.equal(resetting.shouldCompress(1023), false);
  assert.equal(resetting.shouldCompress(1024), true);
  const custom = new DeflateCodec(parameters(), "client", { threshold: 2048 });
  assert.equal(custom.shouldCompress(2047), false);
  assert.equal(custom.shouldCompress(2048), true);
  // Random bytes do not shrink: the next message goes as it is, then
  // compression is tried again, and after more failures it pauses longer.
  const noise = () => crypto.getRandomValues(new Uint8Array(4096));
  assert.ok((await codec.compress(noise())) !== undefined);
  assert.equal(codec.shouldCompress(4096), false);
  assert.equal(codec.shouldCompress(4096), true);
  await codec.compress(noise());
  assert.equal(codec.shouldCompress(4096), false);
  assert.equal(codec.shouldCompress(4096), false);
  assert.equal(codec.shouldCompress(4096), true);
  // While that one is out, the rest go as they are.
  assert.equal(codec.shouldCompress(4096), false);
  // One message that compresses well ends the pause.
  await codec.compress(chatMessage(0));
  assert.equal(codec.shouldCompress(4096), true);
  // Without context takeover, what does not shrink is sent as it is.
  assert.equal(await resetting.compress(noise()), undefined);
  codec.close();
  custom.close();
  resetting.close();
});

Deno.test("order: messages compressed and inflated concurrently keep their order", async () => {
  const sender = new DeflateCodec(parameters(), "client");
  const receiver = new DeflateCodec(parameters(), "server");
  const messages = Array.from({ length: 50 }, (_, i) => chatMessage(i));
  const payloads = await compressAll(sender, messages);
  const inflated = await Promise.all(
    payloads.map((payload) => receiver.inflate(payload, true, Infinity)),
  );
  assert.deepEqual(inflated, messages);
  sender.close();
  receiver.close();
});

Deno.test("close: operations in flight and later ones reject, saying why", async () => {
  const codec = new DeflateCodec(parameters(), "client");
  const noise = new Uint8Array(16 * 1024 * 1024);
  for (let at = 0; at < noise.byteLength; at += 65536) {
    crypto.getRandomValues(noise.subarray(at, at + 65536));
  }
  // Random bytes take zlib a while: this one is still in progress.
  const pending = codec.compress(noise);
  await new Promise((resolve) => setTimeout(resolve, 0));
  const inflating = codec.inflate(new Uint8Array([0x00]), true, Infinity);
  codec.close();
  await assert.rejects(
    pending,
    /^Error: Cannot compress: the connection is closed$/,
  );
  await assert.rejects(
    inflating,
    /^Error: Cannot inflate: the connection is closed$/,
  );
  await assert.rejects(
    codec.compress(chatMessage(1)),
    /^Error: Cannot compress: the connection is closed$/,
  );
  assert.equal(codec.shouldCompress(4096), false);
});
