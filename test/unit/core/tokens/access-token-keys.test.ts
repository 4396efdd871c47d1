// Unit tests for src/core/tokens/access-token.ts, second file: each refusal for its own reason
// (the detail names the check that refused, so a check that stopped working cannot hide behind a
// later one, fast-jwt's or JSON's), the key a token's kid names (an unknown or malformed kid, a key
// revoked after its tokens were cached), the amr claim, and the exact 8192-character limit.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { AuthError } from "../../../../src/core/errors.js";
import {
  createAccessTokenSigner,
  createAccessTokenVerifier,
  DEFAULT_AMR,
  secretKeys,
  secretKidOf,
  type TokenKey,
  type TokenKeys,
} from "../../../../src/core/tokens/access-token.js";
import { b64url, forge, hmac, type Json } from "../../../support/tokens-forge.js";

const SECRET = "unit-test-secret-unit-test-secret-0123456789";
const ISSUER = "tokenver-unit";
const T0 = 1_700_000_000;
const clock = () => T0 * 1000;
const config = { secret: SECRET, issuer: ISSUER, ttl: 900, clockTolerance: 5, clock };

const claims = (over: Json = {}): Json => ({
  iss: ISSUER,
  sub: "user-1",
  sid: "session-1",
  token_version: 0,
  jti: randomUUID(),
  iat: T0,
  exp: T0 + 900,
  ...over,
});
const signed = (c: Json, header: Json = { alg: "HS256", typ: "at+jwt" }) => forge({ header, claims: c, secret: SECRET });
/** A token whose header segment is exactly `headerText` (base64url), signed over it. */
const withHeaderText = (headerText: string, c: Json = claims()) => {
  const input = `${b64url(headerText)}.${b64url(JSON.stringify(c))}`;
  return `${input}.${hmac(input, SECRET)}`;
};

function refusedFor(verify: (token: string) => unknown, token: string, detail: string) {
  assert.throws(
    () => verify(token),
    (error: unknown) => {
      assert.ok(error instanceof AuthError, `not an AuthError: ${String(error)}`);
      assert.equal(error.code, "token_invalid");
      assert.equal(error.tokenPresented, true);
      assert.equal(error.message, detail);
      return true;
    },
  );
}

describe("each refusal names its own check", () => {
  const verify = createAccessTokenVerifier(config, 0);

  test("not a compact JWS", () => {
    refusedFor(verify, "a.b", "The token is not a compact JWS.");
    refusedFor(verify, `${signed(claims())}=`, "The token is not a compact JWS.");
    // Junk before a well-formed token: the pattern is anchored at both ends (fast-jwt would refuse it later, for another reason).
    refusedFor(verify, `#${signed(claims())}`, "The token is not a compact JWS.");
    refusedFor(verify, `x.${signed(claims())}`, "The token is not a compact JWS.");
  });

  test("a segment that is not canonical base64url (1 mod 4, or unused bits set)", () => {
    const token = signed(claims());
    const [h, p, s] = token.split(".") as [string, string, string];
    // Whatever the lengths, one of these three makes a segment of 1 mod 4 characters.
    for (const [i, segment] of [h, p, s].entries()) {
      const padded = segment + "A".repeat((((1 - segment.length) % 4) + 4) % 4 || 4);
      assert.equal(padded.length % 4, 1);
      const parts = [h, p, s];
      parts[i] = padded;
      refusedFor(verify, parts.join("."), "The token is not canonical base64url.");
    }
    // The signature of an HS256 token is 43 characters (3 mod 4): its last has two unused bits.
    const last = s.at(-1)!;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const variant = `${h}.${p}.${s.slice(0, -1)}${alphabet[alphabet.indexOf(last) | 1]}`;
    refusedFor(verify, variant, "The token is not canonical base64url.");
    const variant2 = `${h}.${p}.${s.slice(0, -1)}${alphabet[alphabet.indexOf(last) | 2]}`;
    refusedFor(verify, variant2, "The token is not canonical base64url.");
  });

  test("a header that is not JSON, or not an object", () => {
    refusedFor(verify, withHeaderText("{nope"), "The token's header is not JSON.");
    for (const text of ["null", "[]", '["HS256"]', "1", '"HS256"', "true"]) {
      refusedFor(verify, withHeaderText(text), "The token's header is not an object.");
    }
  });

  test("a kid that is not a non-empty string", () => {
    for (const kid of ["", 1, null, ["hs256"], { id: "hs256" }, true]) {
      refusedFor(verify, signed(claims(), { alg: "HS256", typ: "at+jwt", kid }), "The token's kid is invalid.");
    }
  });

  test("a kid no key has", () => {
    refusedFor(verify, signed(claims(), { alg: "HS256", typ: "at+jwt", kid: "other" }), "The token's key is unknown.");
    refusedFor(verify, signed(claims(), { alg: "HS256", typ: "at+jwt", kid: "hs2566" }), "The token's key is unknown.");
  });

  test("a header alg that is not the key's", () => {
    for (const alg of ["HS384", "RS256", "none", "hs256", undefined]) {
      refusedFor(verify, signed(claims(), { alg, typ: "at+jwt" }), "The token's algorithm is not its key's.");
    }
  });

  test("a signature or claim set that fast-jwt refuses", () => {
    refusedFor(verify, forge({ claims: claims(), secret: `${SECRET}x` }), "The token could not be verified.");
    refusedFor(verify, signed(claims({ iss: "someone-else" })), "The token could not be verified.");
  });

  test("each claim check", () => {
    refusedFor(verify, signed(claims({ aud: "x" })), "The token is meant for another audience.");
    refusedFor(verify, signed(claims({ sub: 5 })), "The sub claim is invalid.");
    refusedFor(verify, signed(claims({ sub: "" })), "The sub claim is invalid.");
    refusedFor(verify, signed(claims({ sid: 5 })), "The sid claim is invalid.");
    refusedFor(verify, signed(claims({ sid: "" })), "The sid claim is invalid.");
    refusedFor(verify, signed(claims({ jti: 5 })), "The jti claim is invalid.");
    refusedFor(verify, signed(claims({ jti: "" })), "The jti claim is invalid.");
    refusedFor(verify, signed(claims({ token_version: -1 })), "The token_version claim is invalid.");
    refusedFor(verify, signed(claims({ token_version: 0.5 })), "The token_version claim is invalid.");
    refusedFor(verify, signed(claims({ exp: "later" })), "The exp or iat claim is invalid.");
    refusedFor(verify, signed(claims({ iat: "now" })), "The exp or iat claim is invalid.");
    refusedFor(verify, signed(claims({ nbf: "soon" })), "The nbf claim is invalid.");
    refusedFor(verify, signed(claims({ nbf: T0 + 60 })), "The token is not valid yet.");
  });

  test("an expired token is token_expired, with its own detail, at the exact instant (the leeway included)", () => {
    const expired = (exp: number) => () => verify(signed(claims({ exp })));
    const isExpired = (error: unknown) =>
      error instanceof AuthError &&
      error.code === "token_expired" &&
      error.message === "The token has expired." &&
      error.tokenPresented === true;
    assert.throws(expired(T0 - 5), isExpired);
    assert.doesNotThrow(expired(T0 - 4));
  });
});

describe("amr", () => {
  const sign = createAccessTokenSigner(config);
  const verify = createAccessTokenVerifier(config, 0);

  test("signed with the session's amr; pwd by default", () => {
    assert.deepEqual(DEFAULT_AMR, ["pwd"]);
    assert.ok(Object.isFrozen(DEFAULT_AMR));
    assert.deepEqual(verify(sign("u", "s", 0)).amr, ["pwd"]);
    assert.deepEqual(verify(sign("u", "s", 0, ["pwd", "otp", "mfa"])).amr, ["pwd", "otp", "mfa"]);
  });

  test("an amr that is not an array of strings is refused; none at all is accepted (tokens from before it)", () => {
    for (const amr of ["pwd", ["pwd", 1], [null], { 0: "pwd" }, 1]) {
      refusedFor(verify, signed(claims({ amr })), "The amr claim is invalid.");
    }
    assert.deepEqual(verify(signed(claims({ amr: [] }))).amr, []);
    assert.equal(verify(signed(claims())).amr, undefined);
  });
});

describe("keys", () => {
  test("without keys or a secret there is nothing to sign or verify with", () => {
    const bare = { issuer: ISSUER, ttl: 900, clockTolerance: 5, clock };
    // A configuration mistake: the message tells the developer what is missing.
    const missing = { name: "TypeError", message: "tokenver: access tokens need keys or a secret" };
    assert.throws(() => createAccessTokenSigner(bare), missing);
    assert.throws(() => createAccessTokenVerifier(bare), missing);
  });

  test("secretKeys: the secret under its kid, and for tokens without one; no other kid", () => {
    const keys = secretKeys("s3cret", "my-kid");
    const key = keys.signing();
    assert.deepEqual(key, { kid: "my-kid", alg: "HS256", signKey: "s3cret", verifyKey: "s3cret" });
    assert.equal(keys.find(undefined), key);
    assert.equal(keys.find("my-kid"), key);
    assert.equal(keys.find("hs256"), undefined);
    assert.equal(keys.find(""), undefined);
    assert.equal(secretKeys("x").signing().kid, secretKidOf("x"), "by default, the kid every node derives from the secret");
  });

  /** Two HS256 keys; `revoked` kids are unknown from then on (as KeyRing.find answers). */
  function ring() {
    const make = (kid: string): TokenKey => ({
      kid,
      alg: "HS256",
      signKey: `${kid}-secret-${SECRET}`,
      verifyKey: `${kid}-secret-${SECRET}`,
    });
    const all = new Map([
      ["k1", make("k1")],
      ["k2", make("k2")],
    ]);
    let signingKid = "k1";
    const revoked = new Set<string>();
    const keys: TokenKeys = {
      signing: () => all.get(signingKid)!,
      find: (kid) => (kid === undefined || revoked.has(kid) ? undefined : all.get(kid)),
    };
    return {
      keys,
      revoke: (kid: string) => revoked.add(kid),
      rotate: (kid: string) => (signingKid = kid),
      replace: (kid: string) => all.set(kid, { ...all.get(kid)! }),
    };
  }

  test("a token verifies with the key its kid names, and the header carries that kid", () => {
    const r = ring();
    const sign = createAccessTokenSigner({ ...config, keys: r.keys });
    const verify = createAccessTokenVerifier({ ...config, keys: r.keys });
    const first = sign("u", "s", 0);
    r.rotate("k2");
    const second = sign("u", "s", 0);
    assert.equal(JSON.parse(Buffer.from(first.split(".")[0]!, "base64url").toString()).kid, "k1");
    assert.equal(JSON.parse(Buffer.from(second.split(".")[0]!, "base64url").toString()).kid, "k2");
    assert.equal(verify(first).sub, "u");
    assert.equal(verify(second).sub, "u");
    // Signed with k1's secret but naming k2: the key the kid names does not verify it.
    const crossed = forge({ header: { alg: "HS256", typ: "at+jwt", kid: "k2" }, claims: claims(), secret: `k1-secret-${SECRET}` });
    refusedFor(verify, crossed, "The token could not be verified.");
    // No kid: this ring has no key for tokens from before kid existed.
    refusedFor(verify, forge({ claims: claims(), secret: `k1-secret-${SECRET}` }), "The token's key is unknown.");
  });

  test("a revoked key's tokens die at once, even those already verified and cached", () => {
    const r = ring();
    const sign = createAccessTokenSigner({ ...config, keys: r.keys });
    const verify = createAccessTokenVerifier({ ...config, keys: r.keys });
    const token = sign("u", "s", 0);
    assert.equal(verify(token).sub, "u");
    assert.equal(verify(token).sub, "u", "from the cache");
    r.revoke("k1");
    refusedFor(verify, token, "The token's key is unknown.");
  });

  test("a key replaced by another object (a reload) verifies its tokens afresh, and they still verify", () => {
    const r = ring();
    const sign = createAccessTokenSigner({ ...config, keys: r.keys });
    const verify = createAccessTokenVerifier({ ...config, keys: r.keys });
    const token = sign("u", "s", 0);
    const before = verify(token);
    r.replace("k1");
    const after = verify(token);
    assert.equal(after.sub, "u");
    assert.notEqual(after, before, "verified again, not taken from the cache");
    assert.equal(verify(token), after, "then cached under the new key object");
  });
});

describe("the 8192-character limit", () => {
  /** A correctly signed token of exactly `length` characters (padding a claim and a header member). */
  function tokenOfLength(length: number): string {
    for (let headerPad = 0; headerPad < 4; headerPad++) {
      const header = { alg: "HS256", typ: "at+jwt", x: "h".repeat(headerPad) };
      for (let pad = 5500; pad < 6500; pad++) {
        const token = signed(claims({ jti: "fixed", pad: "p".repeat(pad) }), header);
        if (token.length === length) return token;
        if (token.length > length) break;
      }
    }
    assert.fail(`no token of ${length} characters`);
  }

  test("8192 characters are verified; 8193 and more are refused before any verification", () => {
    const verify = createAccessTokenVerifier(config, 0);
    const exact = tokenOfLength(8192);
    assert.equal(exact.length, 8192);
    assert.equal(verify(exact).sub, "user-1");
    refusedFor(verify, tokenOfLength(8194), "The token is not a compact JWS.");
  });
});
