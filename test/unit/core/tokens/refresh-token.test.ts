// Unit tests for src/core/tokens/refresh-token.ts: generateRefreshToken, parseRefreshToken,
// hashSecret and secretMatches (the opaque `id.secret` refresh tokens).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { generateRefreshToken, hashSecret, parseRefreshToken, secretMatches } from "../../../../src/core/tokens/refresh-token.js";

const SHAPE = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/;

describe("generateRefreshToken", () => {
  test("the token is id.secret: 16 random bytes of id, 32 of secret, base64url without padding", () => {
    const { id, token } = generateRefreshToken();
    assert.match(token, SHAPE);
    const [tokenId, secret] = token.split(".") as [string, string];
    assert.equal(tokenId, id);
    assert.equal(Buffer.from(id, "base64url").length, 16);
    assert.equal(Buffer.from(secret, "base64url").length, 32, "256 bits of secret (>= 128 required)");
  });

  test("the stored hash is the SHA-256 of the secret, never the secret itself", () => {
    const { token, hash } = generateRefreshToken();
    const secret = token.split(".")[1]!;
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.equal(hash, hashSecret(secret));
    assert.notEqual(hash, secret);
    assert.ok(!hash.includes(secret) && !token.includes(hash), "neither contains the other");
    assert.notEqual(hash, hashSecret(token), "the hash is of the secret part, not of the whole token");
  });

  test("ids and secrets do not repeat, and every bit of the secret varies", () => {
    const tokens = Array.from({ length: 500 }, () => generateRefreshToken());
    assert.equal(new Set(tokens.map((t) => t.id)).size, tokens.length);
    assert.equal(new Set(tokens.map((t) => t.token.split(".")[1])).size, tokens.length);
    // A secret with constant or derived bits would leave some bit position fixed over 500 draws
    // (a fair bit stays fixed with probability 2^-499).
    const secrets = tokens.map((t) => Buffer.from(t.token.split(".")[1]!, "base64url"));
    for (let bit = 0; bit < 256; bit++) {
      const ones = secrets.filter((b) => (b[bit >> 3]! >> (bit & 7)) & 1).length;
      assert.ok(ones > 0 && ones < secrets.length, `secret bit ${bit} never varies`);
    }
  });
});

describe("parseRefreshToken", () => {
  test("a generated token parses back into its id and secret", () => {
    const { id, token } = generateRefreshToken();
    assert.deepEqual(parseRefreshToken(token), { id, secret: token.split(".")[1] });
  });

  test("malformed tokens parse to undefined", () => {
    const { token } = generateRefreshToken();
    const [id, secret] = token.split(".") as [string, string];
    const cases: Record<string, string> = {
      empty: "",
      "no dot": `${id}${secret}`,
      "id only": `${id}.`,
      "secret only": `.${secret}`,
      "id one short": `${id.slice(1)}.${secret}`,
      "id one long": `${id}A.${secret}`,
      "secret one short": `${id}.${secret.slice(1)}`,
      "secret one long": `${id}.${secret}A`,
      "three parts (a JWT)": `${id}.${secret}.${secret}`,
      "padding =": `${id}.${secret.slice(1)}=`,
      "standard base64 +": `${id}.${secret.slice(1)}+`,
      "standard base64 /": `/${id.slice(1)}.${secret}`,
      "leading space": ` ${token}`,
      "trailing space": `${token} `,
      "trailing newline": `${token}\n`,
      "swapped parts": `${secret}.${id}`,
      "non-ASCII": `${id.slice(1)}é.${secret}`,
      "a real JWT": "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2ln",
    };
    for (const [what, bad] of Object.entries(cases)) assert.equal(parseRefreshToken(bad), undefined, what);
  });
});

describe("secretMatches", () => {
  test("true for the secret of the hash", () => {
    const { token, hash } = generateRefreshToken();
    assert.equal(secretMatches(token.split(".")[1]!, hash), true);
  });

  test("false for another secret, the whole token, or the hash itself", () => {
    const a = generateRefreshToken();
    const b = generateRefreshToken();
    const secretA = a.token.split(".")[1]!;
    assert.equal(secretMatches(b.token.split(".")[1]!, a.hash), false);
    assert.equal(secretMatches(a.token, a.hash), false);
    assert.equal(secretMatches(a.hash, a.hash), false);
    assert.equal(secretMatches(`${secretA.slice(0, -1)}${secretA.endsWith("A") ? "B" : "A"}`, a.hash), false, "last character changed");
  });

  test("false, without throwing, for a stored hash of another length or not hex", () => {
    const { token, hash } = generateRefreshToken();
    const secret = token.split(".")[1]!;
    for (const stored of ["", hash.slice(0, 62), hash.slice(0, 32), `${hash}00`, `${hash}${hash}`, "zz".repeat(32), "not a hash"]) {
      assert.equal(secretMatches(secret, stored), false, JSON.stringify(stored));
    }
  });

  test("a hash differing only in its last byte does not match", () => {
    const { token, hash } = generateRefreshToken();
    const last = hash.slice(-2) === "00" ? "01" : "00";
    assert.equal(secretMatches(token.split(".")[1]!, `${hash.slice(0, -2)}${last}`), false);
  });
});
