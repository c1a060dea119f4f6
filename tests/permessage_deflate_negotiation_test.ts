/**
 * permessage-deflate negotiation (RFC 7692, section 7.1) from plain header
 * values: the extension list grammar, the client's offer and its check of an
 * answer, the server's choice among offers, and agreement with npm `ws`'s
 * own negotiation in both roles.
 */

import assert from "node:assert/strict";
import {
  acceptDeflateResponse,
  createDeflateOffer,
  type DeflateParameters,
  negotiateDeflate,
  parseExtensionList,
  readCompressionOption,
} from "../src/socket/permessage_deflate_negotiation.ts";
import { wsExtension, WsPerMessageDeflate } from "./_ws_permessage_deflate.ts";

const DEFAULTS: DeflateParameters = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

Deno.test("extension list: several offers, parameters, quoted values and spacing", () => {
  assert.deepEqual(
    parseExtensionList(
      'permessage-deflate; client_max_window_bits="10";server_no_context_takeover , ,x-Foo;a=1,\tpermessage-deflate ; client_max_window_bits',
    ),
    [
      {
        name: "permessage-deflate",
        params: [
          ["client_max_window_bits", "10"],
          ["server_no_context_takeover", true],
        ],
      },
      { name: "x-foo", params: [["a", "1"]] },
      {
        name: "permessage-deflate",
        params: [["client_max_window_bits", true]],
      },
    ],
  );
  assert.deepEqual(parseExtensionList(""), []);
  assert.deepEqual(parseExtensionList(" , "), []);
  assert.deepEqual(parseExtensionList('a; b="1\\0"'), [
    { name: "a", params: [["b", "10"]] },
  ]);
});

Deno.test("extension list: malformed values say where and what", () => {
  for (
    const [value, reason] of [
      ["permessage-deflate;", "a parameter name was expected at character 20"],
      ["permessage-deflate; =1", "a parameter name was expected"],
      ["permessage-deflate x", "';' or ',' was expected"],
      ["; a", "an extension name was expected at character 1"],
      ["a; b=", "b has no value"],
      ['a; b="10', "an unterminated string"],
      ['a; b="1 0"', "the quoted value of b is not a token"],
      ['a; b=""', "the quoted value of b is not a token"],
    ]
  ) {
    const parsed = parseExtensionList(value!);
    assert.equal(typeof parsed, "string", value);
    assert.ok((parsed as string).startsWith(reason!), `${value}: ${parsed}`);
    assert.ok((parsed as string).endsWith(JSON.stringify(value)), value);
  }
});

Deno.test("client offer: client_max_window_bits always, the rest as asked", () => {
  assert.equal(
    createDeflateOffer({}),
    "permessage-deflate; client_max_window_bits",
  );
  assert.equal(
    createDeflateOffer({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 9,
    }),
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9",
  );
});

Deno.test("client: a server's valid answers give the agreed parameters", () => {
  assert.equal(acceptDeflateResponse("", {}), undefined);
  assert.deepEqual(acceptDeflateResponse("permessage-deflate", {}), DEFAULTS);
  assert.deepEqual(
    acceptDeflateResponse(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits="9"; client_max_window_bits=12',
      {},
    ),
    {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 12,
    },
  );
  // What we offered holds even when the answer does not repeat it.
  assert.deepEqual(
    acceptDeflateResponse("Permessage-Deflate", {
      clientNoContextTakeover: true,
      clientMaxWindowBits: 10,
    }),
    { ...DEFAULTS, clientNoContextTakeover: true, clientMaxWindowBits: 10 },
  );
  assert.deepEqual(
    acceptDeflateResponse(
      "permessage-deflate; server_no_context_takeover; server_max_window_bits=8",
      { serverNoContextTakeover: true, serverMaxWindowBits: 10 },
    ),
    { ...DEFAULTS, serverNoContextTakeover: true, serverMaxWindowBits: 8 },
  );
});

Deno.test("client: an invalid answer fails the handshake with the reason", () => {
  const cases: [string, Parameters<typeof createDeflateOffer>[0], string][] = [
    ["permessage-deflate; x=1", {}, "unknown parameter x"],
    [
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      {},
      "server_no_context_takeover appears more than once",
    ],
    [
      "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10",
      {},
      "client_max_window_bits appears more than once",
    ],
    [
      "permessage-deflate; server_no_context_takeover=1",
      {},
      'server_no_context_takeover takes no value, received "1"',
    ],
    [
      "permessage-deflate; server_max_window_bits=7",
      {},
      'server_max_window_bits must be an integer from 8 to 15, received "7"',
    ],
    [
      "permessage-deflate; server_max_window_bits=16",
      {},
      'server_max_window_bits must be an integer from 8 to 15, received "16"',
    ],
    [
      "permessage-deflate; server_max_window_bits=09",
      {},
      'server_max_window_bits must be an integer from 8 to 15, received "09"',
    ],
    [
      "permessage-deflate; server_max_window_bits=1a",
      {},
      'server_max_window_bits must be an integer from 8 to 15, received "1a"',
    ],
    [
      "permessage-deflate; server_max_window_bits",
      {},
      "server_max_window_bits must be an integer from 8 to 15, received no value",
    ],
    [
      "permessage-deflate; client_max_window_bits",
      {},
      "client_max_window_bits needs a value in an answer",
    ],
    [
      "permessage-deflate; client_max_window_bits=11",
      { clientMaxWindowBits: 10 },
      "client_max_window_bits=11 is more than the 10 offered",
    ],
    [
      "permessage-deflate",
      { serverNoContextTakeover: true },
      "server_no_context_takeover was asked for but is missing",
    ],
    [
      "permessage-deflate",
      { serverMaxWindowBits: 10 },
      "server_max_window_bits was asked for but is missing",
    ],
    [
      "permessage-deflate; server_max_window_bits=11",
      { serverMaxWindowBits: 10 },
      "server_max_window_bits=11 is more than the 10 asked for",
    ],
  ];
  for (const [answer, options, reason] of cases) {
    assert.equal(
      acceptDeflateResponse(answer, options),
      `the server's permessage-deflate answer is invalid: ${reason}`,
      answer,
    );
  }
  assert.equal(
    acceptDeflateResponse("permessage-deflate, permessage-deflate", {}),
    "the server agreed to extensions that were not offered: permessage-deflate, permessage-deflate",
  );
  assert.equal(
    acceptDeflateResponse("x-webkit-deflate-frame", {}),
    "the server agreed to extensions that were not offered: x-webkit-deflate-frame",
  );
  assert.match(
    acceptDeflateResponse("permessage-deflate;;", {}) as string,
    /^the server's Sec-WebSocket-Extensions is malformed: a parameter name was expected/,
  );
});

Deno.test("server: takes the first offer it can accept and answers with what holds", () => {
  // A browser's offer.
  assert.deepEqual(
    negotiateDeflate("permessage-deflate; client_max_window_bits", {}),
    { parameters: DEFAULTS, response: "permessage-deflate" },
  );
  assert.equal(negotiateDeflate("", {}), undefined);
  assert.equal(negotiateDeflate("x-webkit-deflate-frame", {}), undefined);
  // Invalid offers are declined, not fatal; the next valid one is taken.
  assert.deepEqual(
    negotiateDeflate(
      "permessage-deflate; x=1, permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits=10; client_no_context_takeover, permessage-deflate",
      {},
    ),
    {
      parameters: {
        ...DEFAULTS,
        serverMaxWindowBits: 10,
        clientNoContextTakeover: true,
      },
      response:
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=10",
    },
  );
  // The server's own limits go into the answer, the lower window wins.
  assert.deepEqual(
    negotiateDeflate(
      'permessage-deflate; server_max_window_bits="12"; client_max_window_bits=11',
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 13,
        clientMaxWindowBits: 9,
      },
    ),
    {
      parameters: {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 12,
        clientMaxWindowBits: 9,
      },
      response:
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=9",
    },
  );
  // An offered client window is answered, a larger server option ignored.
  assert.deepEqual(
    negotiateDeflate("permessage-deflate; client_max_window_bits=10", {
      clientMaxWindowBits: 12,
    }),
    {
      parameters: { ...DEFAULTS, clientMaxWindowBits: 10 },
      response: "permessage-deflate; client_max_window_bits=10",
    },
  );
  // Limiting the client's window needs a client that can limit it.
  assert.equal(
    negotiateDeflate("permessage-deflate", { clientMaxWindowBits: 10 }),
    undefined,
  );
  assert.match(
    negotiateDeflate("permessage-deflate; a=", {}) as string,
    /^the client's Sec-WebSocket-Extensions is malformed: a has no value/,
  );
});

Deno.test("compression option: booleans, objects and the error for each bad value", () => {
  const what = "Cannot construct WebSocketStream";
  assert.deepEqual(readCompressionOption(undefined, true, what), {});
  assert.equal(readCompressionOption(undefined, false, what), undefined);
  assert.equal(readCompressionOption(false, true, what), undefined);
  assert.deepEqual(readCompressionOption(true, false, what), {});
  assert.deepEqual(
    readCompressionOption(
      {
        serverMaxWindowBits: 8,
        clientNoContextTakeover: true,
        threshold: 0,
        level: 1,
      },
      false,
      what,
    ),
    {
      serverMaxWindowBits: 8,
      clientNoContextTakeover: true,
      threshold: 0,
      level: 1,
    },
  );
  for (
    const [value, error, message] of [
      [
        "yes",
        TypeError,
        'options.compression must be a boolean or an object, received "yes"',
      ],
      [null, TypeError, "received null"],
      [
        { serverNoContextTakeover: 1 },
        TypeError,
        "options.compression.serverNoContextTakeover must be a boolean, received 1",
      ],
      [
        { clientMaxWindowBits: 16 },
        RangeError,
        "options.compression.clientMaxWindowBits must be an integer from 8 to 15, received 16",
      ],
      [{ serverMaxWindowBits: 9.5 }, RangeError, "received 9.5"],
      [
        { serverMaxWindowBits: "9" },
        TypeError,
        'options.compression.serverMaxWindowBits must be a number, received "9"',
      ],
      [{ level: "4" }, TypeError, 'level must be a number, received "4"'],
      [
        { threshold: 1n },
        TypeError,
        "threshold must be a number, received 1n",
      ],
      [
        { threshold: -1 },
        RangeError,
        "options.compression.threshold must be a number of bytes, at least 0, received -1",
      ],
      [{ threshold: NaN }, RangeError, "received NaN"],
      [
        { level: 10 },
        RangeError,
        "options.compression.level must be an integer from 0 to 9, received 10",
      ],
      [{ level: 1.5 }, RangeError, "received 1.5"],
    ] as const
  ) {
    assert.throws(
      () => readCompressionOption(value, true, what),
      (thrown: unknown) => {
        assert.ok(thrown instanceof error, String(thrown));
        assert.ok(thrown.message.startsWith(`${what}: options.compression`));
        assert.ok(thrown.message.endsWith(message), thrown.message);
        return true;
      },
    );
  }
});

const OPTION_SETS = [
  {},
  { serverNoContextTakeover: true },
  { clientNoContextTakeover: true },
  { serverMaxWindowBits: 9 },
  { clientMaxWindowBits: 8 },
  {
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 12,
    clientMaxWindowBits: 10,
  },
];

/** What `ws` agreed, in our terms. */
function fromWsParams(params: Record<string, unknown>): DeflateParameters {
  const bits = (value: unknown) => typeof value === "number" ? value : 15;
  return {
    serverNoContextTakeover: params.server_no_context_takeover === true,
    clientNoContextTakeover: params.client_no_context_takeover === true,
    serverMaxWindowBits: bits(params.server_max_window_bits),
    clientMaxWindowBits: bits(params.client_max_window_bits),
  };
}

Deno.test("ws server: accepts our offers, and we accept its answers, agreeing on every parameter", () => {
  let declined = 0;
  for (const ours of OPTION_SETS) {
    for (const theirs of OPTION_SETS) {
      const server = new WsPerMessageDeflate({ ...theirs, isServer: true });
      let params: Record<string, unknown>;
      try {
        params = server.accept(
          wsExtension.parse(createDeflateOffer(ours))["permessage-deflate"]!,
        );
      } catch (error) {
        // ws declines some offers it could accept (a smaller server window
        // than its own setting, no client window when it wants to limit it).
        assert.equal(
          (error as Error).message,
          "None of the extension offers can be accepted",
        );
        declined++;
        continue;
      }
      const answer = wsExtension.format({ "permessage-deflate": [params] });
      const agreed = acceptDeflateResponse(answer, ours);
      assert.equal(typeof agreed, "object", `${answer}: ${agreed}`);
      const expected = fromWsParams(params);
      // An offered client window binds us even when ws leaves it out.
      if (
        ours.clientMaxWindowBits !== undefined &&
        theirs.clientMaxWindowBits === undefined
      ) {
        expected.clientMaxWindowBits = ours.clientMaxWindowBits;
      }
      if (ours.clientNoContextTakeover) expected.clientNoContextTakeover = true;
      assert.deepEqual(agreed, expected, answer);
    }
  }
  assert.ok(declined < OPTION_SETS.length, `${declined} declined`);
});

Deno.test("ws client: our server accepts its offers and it accepts our answers", () => {
  for (const ours of OPTION_SETS) {
    for (const theirs of OPTION_SETS) {
      const client = new WsPerMessageDeflate(theirs);
      const offer = wsExtension.format({
        "permessage-deflate": [client.offer()],
      });
      const agreement = negotiateDeflate(offer, ours);
      assert.ok(typeof agreement === "object", offer);
      const params = client.accept(
        wsExtension.parse(agreement.response)["permessage-deflate"]!,
      );
      const expected = fromWsParams(params);
      if (theirs.clientNoContextTakeover) {
        expected.clientNoContextTakeover = true;
      }
      if (theirs.clientMaxWindowBits !== undefined) {
        expected.clientMaxWindowBits = Math.min(
          theirs.clientMaxWindowBits,
          expected.clientMaxWindowBits,
        );
      }
      assert.deepEqual(agreement.parameters, expected, agreement.response);
    }
  }
});
