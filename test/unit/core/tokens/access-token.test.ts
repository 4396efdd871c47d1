// Unit tests for src/core/tokens/access-token.ts: createAccessTokenSigner / createAccessTokenVerifier
// (header and claim checks, the pinned HS256, exp/nbf against an injected clock, the verified-token cache).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { AuthError, type ErrorCode } from "../../../../src/core/errors.js";
import { createAccessTokenSigner, createAccessTokenVerifier, secretKidOf } from "../../../../src/core/tokens/access-token.js";
import { b64url, decodePart, forge, hmac, type Json } from "../../../support/tokens-forge.js";

type AccessTokenConfig = Parameters<typeof createAccessTokenSigner>[0];
type AccessTokenClaims = ReturnType<ReturnType<typeof createAccessTokenVerifier>>;

const SECRET = "unit-test-secret-unit-test-secret-0123456789";
const ISSUER = "tokenver-unit";
const TTL = 900;
const LEEWAY = 5;
/** Seconds since the epoch at the start of every test (a whole second, so ms arithmetic is exact). */
const T0 = 1_700_000_000;

/** A signer and a verifier (cached unless `cacheSize` is 0) on a clock the test moves by hand. */
function setup(cacheSize?: number) {
  let nowMs = T0 * 1000;
  const config: AccessTokenConfig = { secret: SECRET, issuer: ISSUER, ttl: TTL, clockTolerance: LEEWAY, clock: () => nowMs };
  return {
    sign: createAccessTokenSigner(config),
    verify: cacheSize === undefined ? createAccessTokenVerifier(config) : createAccessTokenVerifier(config, cacheSize),
    setNow: (ms: number) => {
      nowMs = ms;
    },
  };
}

/** Claims as the signer issues them at T0. */
function claims(overrides: Json = {}): Json {
  return { iss: ISSUER, sub: "user-1", sid: "session-1", token_version: 0, jti: randomUUID(), iat: T0, exp: T0 + TTL, ...overrides };
}

/** A token signed with the right secret as HS256, with exactly these claims and header. */
const signed = (c: Json, header: Json = { alg: "HS256", typ: "at+jwt" }) => forge({ header, claims: c, secret: SECRET });

function without(c: Json, name: string): Json {
  const copy = { ...c };
  delete copy[name];
  return copy;
}

function refusal(verify: (token: string) => AccessTokenClaims, token: string): AuthError {
  try {
    verify(token);
  } catch (error) {
    assert.ok(error instanceof AuthError, `not an AuthError: ${String(error)}`);
    return error;
  }
  assert.fail(`accepted: ${token.slice(0, 120)}`);
}

function assertRefused(verify: (token: string) => AccessTokenClaims, token: string, code: ErrorCode, what: string) {
  const error = refusal(verify, token);
  assert.equal(error.code, code, `${what}: code`);
  assert.equal(error.status, 401, `${what}: status`);
  assert.equal(error.tokenPresented, true, `${what}: tokenPresented`);
}

describe("round trip", () => {
  test("a signed token verifies to the claims it was signed with", () => {
    const { sign, verify } = setup();
    const token = sign("user-1", "session-1", 7);
    const verified = verify(token);
    assert.equal(verified.iss, ISSUER);
    assert.equal(verified.sub, "user-1");
    assert.equal(verified.sid, "session-1");
    assert.equal(verified.token_version, 7);
    assert.equal(verified.iat, T0, "iat from the injected clock");
    assert.equal(verified.exp, T0 + TTL, "exp = iat + ttl");
    assert.match(verified.jti, /^[0-9a-f-]{36}$/);
    assert.equal(verified.aud, undefined);
    assert.equal(verified.nbf, undefined);
  });

  test("the header is exactly alg HS256, typ at+jwt and the key's kid", () => {
    const { sign } = setup();
    assert.deepEqual(decodePart(sign("u", "s", 0), 0), { alg: "HS256", typ: "at+jwt", kid: secretKidOf(SECRET) });
  });

  test("the secret's kid is derived from it one way: stable, 128 bits, never the secret", () => {
    assert.equal(secretKidOf(SECRET), secretKidOf(SECRET));
    assert.match(secretKidOf(SECRET), /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(secretKidOf(SECRET), secretKidOf(`${SECRET}x`));
    assert.equal(secretKidOf(SECRET).includes(SECRET.slice(0, 8)), false);
  });

  test("iat follows the injected clock, rounded down to the second", () => {
    const { sign, setNow } = setup();
    setNow((T0 + 42) * 1000 + 999);
    const c = decodePart(sign("u", "s", 0), 1);
    assert.equal(c.iat, T0 + 42);
    assert.equal(c.exp, T0 + 42 + TTL);
  });

  test("every token gets its own jti", () => {
    const { sign } = setup();
    const jtis = new Set(Array.from({ length: 50 }, () => decodePart(sign("u", "s", 0), 1).jti));
    assert.equal(jtis.size, 50);
  });

  test("verified claims are frozen (they are shared by every request with that token)", () => {
    const { sign, verify } = setup();
    const verified = verify(sign("u", "s", 0));
    assert.ok(Object.isFrozen(verified));
    assert.throws(() => {
      (verified as { token_version: number }).token_version = 99;
    }, TypeError);
    assert.equal(verify(sign("u", "s", 0)).token_version, 0);
  });

  test("a hand-forged token with the right secret and claims is accepted (baseline for the refusals below)", () => {
    const { verify } = setup(0);
    const c = claims({ token_version: 3 });
    assert.equal(verify(signed(c)).token_version, 3);
    // typ is compared case-insensitively, "application/" optional (RFC 7515 4.1.9).
    assert.equal(verify(signed(c, { alg: "HS256", typ: "application/at+jwt" })).sub, "user-1");
    assert.equal(verify(signed(c, { alg: "HS256", typ: "AT+JWT" })).sub, "user-1");
  });
});

describe("header: typ and the pinned algorithm", () => {
  test("typ must be at+jwt", () => {
    const { verify } = setup(0);
    for (const header of [{ alg: "HS256" }, { alg: "HS256", typ: "JWT" }, { alg: "HS256", typ: "jwt" }, { alg: "HS256", typ: "rt+jwt" }]) {
      assertRefused(verify, signed(claims(), header), "token_invalid", JSON.stringify(header));
    }
  });

  test("alg none is refused, with or without a signature", () => {
    const { verify } = setup(0);
    for (const alg of ["none", "None", "NONE"]) {
      assertRefused(verify, forge({ header: { alg, typ: "at+jwt" }, claims: claims(), signature: "" }), "token_invalid", `${alg}, empty`);
      assertRefused(verify, forge({ header: { alg, typ: "at+jwt" }, claims: claims(), secret: SECRET }), "token_invalid", `${alg}, signed`);
    }
  });

  test("HS384 and HS512 signed with the right secret are refused: only HS256 is accepted", () => {
    const { verify } = setup(0);
    for (const [alg, hash] of [
      ["HS384", "sha384"],
      ["HS512", "sha512"],
    ] as const) {
      const token = forge({ header: { alg, typ: "at+jwt" }, claims: claims(), secret: SECRET, hash });
      assertRefused(verify, token, "token_invalid", alg);
    }
  });

  test("an RS256 or ES256 header over an HMAC-SHA256 signature is refused (algorithm confusion)", () => {
    const { verify } = setup(0);
    for (const alg of ["RS256", "ES256", "PS256", "EdDSA"]) {
      assertRefused(verify, forge({ header: { alg, typ: "at+jwt" }, claims: claims(), secret: SECRET }), "token_invalid", alg);
    }
  });

  test("a header with an HS256 alg but a signature of another secret, or none, is refused", () => {
    const { verify } = setup(0);
    assertRefused(verify, forge({ claims: claims(), secret: `${SECRET}x` }), "token_invalid", "other secret");
    assertRefused(verify, forge({ claims: claims(), signature: "" }), "token_invalid", "empty signature");
  });

  test("an unknown crit header parameter is refused", () => {
    const { verify } = setup(0);
    const header = { alg: "HS256", typ: "at+jwt", crit: ["urn:example:unknown"], "urn:example:unknown": true };
    assertRefused(verify, signed(claims(), header), "token_invalid", "crit");
  });
});

describe("shape: compact JWS only", () => {
  test("a JWE (five segments) is refused", () => {
    const { verify } = setup(0);
    const jwe = [b64url(JSON.stringify({ alg: "dir", enc: "A256GCM", typ: "at+jwt" })), "", b64url("iv"), b64url("ct"), b64url("tag")].join(
      ".",
    );
    assertRefused(verify, jwe, "token_invalid", "JWE");
    assertRefused(verify, `${signed(claims())}.${b64url("x")}.${b64url("y")}`, "token_invalid", "valid JWS plus two segments");
  });

  test("truncated, padded, stray characters, oversized", () => {
    const { verify } = setup(0);
    const token = signed(claims());
    const [h, p, s] = token.split(".") as [string, string, string];
    const cases = {
      "two segments": `${h}.${p}`,
      "empty signature": `${h}.${p}.`,
      "base64 padding": `${token}=`,
      "standard base64 (+)": `${h}.${p}.${s.slice(0, -1)}+`,
      "whitespace inside": `${h}. ${p}.${s}`,
      "leading space": ` ${token}`,
      "one extra char": `${token}x`,
      "over 8192 characters": `${h}.${p}${"A".repeat(8200)}.${s}`,
    };
    for (const [what, bad] of Object.entries(cases)) assertRefused(verify, bad, "token_invalid", what);
  });

  test("a correctly signed token over 8192 characters is refused before any verification", () => {
    const { verify } = setup(0);
    const small = signed(claims({ pad: "x".repeat(5000) }));
    assert.ok(small.length < 8192, `${small.length} characters`);
    assert.equal(verify(small).sub, "user-1");
    const big = signed(claims({ pad: "x".repeat(6500) }));
    assert.ok(big.length > 8192, `${big.length} characters`);
    assertRefused(verify, big, "token_invalid", "oversized");
  });
});

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** The segment with the lowest unused bit of its last character set: other text, the same bytes. */
function withUnusedBitSet(segment: string): string {
  assert.ok(segment.length % 4 === 2 || segment.length % 4 === 3, `segment of ${segment.length} characters has unused bits`);
  const last = ALPHABET.indexOf(segment.at(-1)!);
  assert.equal(last & 1, 0, "a canonical segment ends with its unused bits zero");
  const variant = segment.slice(0, -1) + ALPHABET[last | 1];
  assert.deepEqual(Buffer.from(variant, "base64url"), Buffer.from(segment, "base64url"), "decodes to the same bytes");
  return variant;
}

/** A header and claims whose encoded segments both end in a character with unused bits. */
function segmentsWithUnusedBits(): { header: string; payload: string } {
  for (let pad = 0; ; pad++) {
    const header = b64url(JSON.stringify({ alg: "HS256", typ: "at+jwt", pad: "x".repeat(pad) }));
    const payload = b64url(JSON.stringify(claims({ pad: "x".repeat(pad) })));
    if (header.length % 4 >= 2 && payload.length % 4 >= 2) return { header, payload };
  }
}

const signInput = (header: string, payload: string) => `${header}.${payload}.${hmac(`${header}.${payload}`, SECRET)}`;

// Base64url decoders ignore the unused low bits of a segment's last character, so without this
// check one token has several spellings that all verify (and the verified-token cache, keyed by
// the string, would hold each). Every segment must be the one canonical encoding of its bytes.
describe("shape: canonical base64url in every segment", () => {
  test("a signature whose last character differs only in its unused bits is refused", () => {
    const { sign, verify } = setup(0);
    const token = sign("user-1", "session-1", 0);
    const [h, p, s] = token.split(".") as [string, string, string];
    assert.equal(verify(token).sub, "user-1");
    assertRefused(verify, `${h}.${p}.${withUnusedBitSet(s)}`, "token_invalid", "signature with an unused bit set");
  });

  test("the same after the canonical token was cached", () => {
    const { sign, verify } = setup();
    const token = sign("user-1", "session-1", 0);
    const [h, p, s] = token.split(".") as [string, string, string];
    assert.equal(verify(token).sub, "user-1");
    assertRefused(verify, `${h}.${p}.${withUnusedBitSet(s)}`, "token_invalid", "variant of a cached token");
    assert.equal(verify(token).sub, "user-1", "the canonical token still verifies");
  });

  test("a header or payload segment with an unused bit set is refused, even signed over that text", () => {
    const { verify } = setup(0);
    const { header, payload } = segmentsWithUnusedBits();
    assert.equal(verify(signInput(header, payload)).sub, "user-1", "baseline: the canonical segments verify");
    assertRefused(verify, signInput(withUnusedBitSet(header), payload), "token_invalid", "header with an unused bit set");
    assertRefused(verify, signInput(header, withUnusedBitSet(payload)), "token_invalid", "payload with an unused bit set");
  });

  test("a segment of 1 mod 4 characters (no encoding at all) is refused, signed or not", () => {
    const { verify } = setup(0);
    const { header, payload } = segmentsWithUnusedBits();
    assertRefused(verify, signInput(`${header}${"A".repeat(5 - (header.length % 4))}`, payload), "token_invalid", "header");
    assertRefused(verify, signInput(header, `${payload}${"A".repeat(5 - (payload.length % 4))}`), "token_invalid", "payload");
  });
});

describe("claims", () => {
  test("wrong or missing iss", () => {
    const { verify } = setup(0);
    assertRefused(verify, signed(claims({ iss: "someone-else" })), "token_invalid", "other iss");
    assertRefused(verify, signed(claims({ iss: `${ISSUER} ` })), "token_invalid", "iss with a trailing space");
    assertRefused(verify, signed(without(claims(), "iss")), "token_invalid", "no iss");
  });

  test("any aud is refused (tokenver never issues one)", () => {
    const { verify } = setup(0);
    assertRefused(verify, signed(claims({ aud: ISSUER })), "token_invalid", "aud");
    assertRefused(verify, signed(claims({ aud: [] })), "token_invalid", "empty aud array");
  });

  test("sub, sid and jti must be present, non-empty strings", () => {
    const { verify } = setup(0);
    for (const name of ["sub", "sid", "jti"]) {
      assertRefused(verify, signed(without(claims(), name)), "token_invalid", `no ${name}`);
      assertRefused(verify, signed(claims({ [name]: "" })), "token_invalid", `empty ${name}`);
      assertRefused(verify, signed(claims({ [name]: 123 })), "token_invalid", `numeric ${name}`);
      assertRefused(verify, signed(claims({ [name]: null })), "token_invalid", `null ${name}`);
    }
  });

  test("token_version must be a non-negative safe integer", () => {
    const { verify } = setup(0);
    assertRefused(verify, signed(without(claims(), "token_version")), "token_invalid", "missing");
    for (const value of [1.5, -1, "1", null, true, 2 ** 53, [1], { v: 1 }]) {
      assertRefused(verify, signed(claims({ token_version: value })), "token_invalid", JSON.stringify(value));
    }
    assert.equal(verify(signed(claims({ token_version: 0 }))).token_version, 0);
    assert.equal(verify(signed(claims({ token_version: 2 ** 53 - 1 }))).token_version, 2 ** 53 - 1);
  });

  test("exp and iat must be present numbers", () => {
    const { verify } = setup(0);
    assertRefused(verify, signed(without(claims(), "exp")), "token_invalid", "no exp");
    assertRefused(verify, signed(without(claims(), "iat")), "token_invalid", "no iat");
    // A string exp far in the future is not "valid until then": it is no exp at all.
    assertRefused(verify, signed(claims({ exp: String(T0 + 10 * TTL) })), "token_invalid", "string exp");
    assertRefused(verify, signed(claims({ iat: "now" })), "token_invalid", "string iat");
  });
});

describe("exp and nbf against the injected clock", () => {
  for (const cacheSize of [0, undefined]) {
    const label = cacheSize === 0 ? "uncached" : "cached";

    test(`${label}: a token is valid until exp + leeway, expired from that second on`, () => {
      const { sign, verify, setNow } = setup(cacheSize);
      const token = sign("u", "s", 0);
      const boundary = T0 + TTL + LEEWAY;
      setNow(boundary * 1000 - 1);
      assert.equal(verify(token).sub, "u", "one millisecond before exp + leeway");
      setNow(boundary * 1000);
      assertRefused(verify, token, "token_expired", "at exp + leeway");
      setNow((boundary + 3600) * 1000);
      assertRefused(verify, token, "token_expired", "an hour later");
    });

    test(`${label}: an exp in the past is token_expired, not token_invalid`, () => {
      const { verify } = setup(cacheSize);
      assertRefused(verify, signed(claims({ iat: T0 - 2 * TTL, exp: T0 - TTL })), "token_expired", "exp an ttl ago");
      assertRefused(verify, signed(claims({ exp: T0 - LEEWAY })), "token_expired", "exp exactly leeway ago");
      assert.equal(verify(signed(claims({ exp: T0 - LEEWAY + 1 }))).sub, "user-1", "exp leeway - 1 s ago");
    });

    test(`${label}: nbf up to leeway in the future is accepted, beyond it token_invalid`, () => {
      const { verify } = setup(cacheSize);
      assert.equal(verify(signed(claims({ nbf: T0 + LEEWAY }))).sub, "user-1", "nbf = now + leeway");
      assertRefused(verify, signed(claims({ nbf: T0 + LEEWAY + 1 })), "token_invalid", "nbf = now + leeway + 1");
      assertRefused(verify, signed(claims({ nbf: "soon" })), "token_invalid", "string nbf");
    });
  }

  test("an expired token is still refused after it was cached", () => {
    const { sign, verify, setNow } = setup();
    const token = sign("u", "s", 0);
    assert.equal(verify(token).sub, "u");
    assert.equal(verify(token).sub, "u", "second call, from the cache");
    setNow((T0 + TTL + LEEWAY) * 1000);
    assertRefused(verify, token, "token_expired", "cached, then past exp");
    // Moving the clock back shows the cache still held the token: the refusal was the time check.
    setNow(T0 * 1000);
    assert.equal(verify(token).sub, "u");
  });

  test("a token refused for its nbf becomes valid when the clock reaches it", () => {
    const { verify, setNow } = setup();
    const token = signed(claims({ nbf: T0 + 60 }));
    assertRefused(verify, token, "token_invalid", "before nbf");
    setNow((T0 + 60 - LEEWAY) * 1000);
    assert.equal(verify(token).sub, "user-1");
  });

  test("the cache is keyed by the exact token: a tampered copy of a cached token is refused", () => {
    const { sign, verify } = setup();
    const token = sign("u", "s", 0);
    assert.equal(verify(token).sub, "u");
    const [h, p, s] = token.split(".") as [string, string, string];
    const flipped = `${h}.${p}.${s[0] === "A" ? "B" : "A"}${s.slice(1)}`;
    assertRefused(verify, flipped, "token_invalid", "signature changed");
    const otherClaims = forge({ header: decodePart(token, 0), claims: { ...decodePart(token, 1), token_version: 5 }, signature: s });
    assertRefused(verify, otherClaims, "token_invalid", "payload changed, old signature");
  });

  test("a failure is not cached: the same token string is refused every time", () => {
    const { verify } = setup();
    const token = signed(claims({ token_version: -1 }));
    assertRefused(verify, token, "token_invalid", "first");
    assertRefused(verify, token, "token_invalid", "second");
  });
});
