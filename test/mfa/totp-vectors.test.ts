import assert from "node:assert/strict";
import { test } from "node:test";
import { generateSync } from "otplib";
import { matchingStep, newTotpSecret, otpauthUrl, totpCode } from "../../src/core/mfa/totp.js";
import { base32Decode, hotp, stepAt, totpAt } from "../support/totp.js";

// RFC 6238, Appendix B: the SHA-1 rows (seed "12345678901234567890", 8 digits).
const SEED_BASE32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const VECTORS: Array<[number, string]> = [
  [59, "94287082"],
  [1111111109, "07081804"],
  [1111111111, "14050471"],
  [1234567890, "89005924"],
  [2000000000, "69279037"],
  [20000000000, "65353130"],
];

test("the test's own TOTP matches RFC 6238's SHA-1 test vectors", () => {
  assert.equal(base32Decode(SEED_BASE32).toString("ascii"), "12345678901234567890");
  for (const [seconds, code] of VECTORS) assert.equal(totpAt(SEED_BASE32, seconds * 1000, 0, 8), code, `T = ${seconds}`);
});

test("the server's codes (otplib) agree with the vectors and with the test's implementation", () => {
  for (const [seconds, code] of VECTORS) {
    const step = stepAt(seconds);
    assert.equal(totpCode(SEED_BASE32, step), code.slice(-6), `T = ${seconds}`);
    assert.equal(generateSync({ strategy: "hotp", secret: SEED_BASE32, counter: step, digits: 8, algorithm: "sha1" }), code);
  }
  const secret = newTotpSecret();
  assert.match(secret, /^[A-Z2-7]{32}$/);
  assert.equal(base32Decode(secret).length, 20, "160 bits");
  for (let step = 1000; step < 1010; step++) assert.equal(totpCode(secret, step), hotp(base32Decode(secret), step));
});

test("a code matches one step of {T-1, T, T+1}, only later than the last accepted step", () => {
  const secret = newTotpSecret();
  const now = 1_800_000_000_000 + 15_000;
  const t = stepAt(now / 1000);
  assert.equal(matchingStep(secret, totpAt(secret, now), now, null), t);
  assert.equal(matchingStep(secret, totpAt(secret, now, -1), now, null), t - 1);
  assert.equal(matchingStep(secret, totpAt(secret, now, 1), now, null), t + 1);
  assert.equal(matchingStep(secret, totpAt(secret, now, 2), now, null), undefined);
  assert.equal(matchingStep(secret, totpAt(secret, now, -2), now, null), undefined);
  assert.equal(matchingStep(secret, totpAt(secret, now), now, t), undefined, "the same step again is a replay");
  assert.equal(matchingStep(secret, totpAt(secret, now, -1), now, t - 1), undefined);
  assert.equal(matchingStep(secret, totpAt(secret, now, 1), now, t), t + 1);
});

test("the otpauth URL says SHA-1, 6 digits, 30 seconds", () => {
  const url = new URL(otpauthUrl("tokenver", "ada@example.com", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
  assert.equal(url.protocol, "otpauth:");
  assert.equal(url.searchParams.get("secret"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  assert.equal(url.searchParams.get("issuer"), "tokenver");
  for (const [name, value] of [
    ["algorithm", "SHA1"],
    ["digits", "6"],
    ["period", "30"],
  ]) {
    const actual = url.searchParams.get(name!);
    if (actual !== null) assert.equal(actual, value);
  }
});
