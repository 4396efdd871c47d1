// Unit tests for the pure parts of the second factor (src/core/mfa/): TOTP time steps and the
// {T-1, T, T+1} window with replay protection, the TOTP secret sealed at rest (bound to the user,
// under a key of its own purpose), recovery codes (format, normalisation, the keyed hash that rests
// in the database) and the amr each kind of code gives. Over a core whose deriveKey is a plain
// hash of the label, so the purpose label of each key is checked too: a stored seal or hash made
// under one label must never open or match under another.
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { describe, test } from "node:test";
import type { Core } from "../../../../src/core/context.js";
import { amrFor } from "../../../../src/core/mfa/check-code.js";
import { modeOf, MFA_TOKEN_MAX_FAILURES, MFA_TOKEN_TTL_SECONDS } from "../../../../src/core/mfa/challenge.js";
import {
  newRecoveryCodes,
  normaliseRecoveryCode,
  RECOVERY_CODE_COUNT,
  RECOVERY_CODE_LENGTH,
  recoveryCodeHash,
} from "../../../../src/core/mfa/recovery-codes.js";
import {
  matchingStep,
  newTotpSecret,
  openTotpSecret,
  sealTotpSecret,
  timeStep,
  TOTP_CODE,
  totpCode,
} from "../../../../src/core/mfa/totp.js";

const derive = (label: string) => createHash("sha256").update(`server secret\n${label}`).digest();
const core = { deriveKey: derive } as unknown as Core;
const otherServer = { deriveKey: (label: string) => createHash("sha256").update(`another secret\n${label}`).digest() } as unknown as Core;

describe("TOTP time steps", () => {
  test("30-second steps from the epoch", () => {
    assert.equal(timeStep(0), 0);
    assert.equal(timeStep(29_999), 0);
    assert.equal(timeStep(30_000), 1);
    assert.equal(timeStep(59_999), 1);
    assert.equal(timeStep(1_800_000_000_000), 60_000_000);
  });

  test("codes are 6 digits; TOTP_CODE accepts exactly that", () => {
    const secret = newTotpSecret();
    for (let step = 0; step < 20; step++) assert.match(totpCode(secret, step), /^[0-9]{6}$/);
    for (const ok of ["000000", "123456"]) assert.ok(TOTP_CODE.test(ok), ok);
    for (const bad of ["12345", "1234567", "12345a", " 123456", "123456 ", ""]) assert.ok(!TOTP_CODE.test(bad), bad);
  });
});

describe("matchingStep: the window and replay", () => {
  const secret = newTotpSecret();
  // The middle of a step, and the very first and last millisecond of one.
  const T = 60_000_000;
  const start = T * 30_000;

  test("at the first and the last millisecond of step T, the window is T-1, T, T+1", () => {
    for (const now of [start, start + 29_999]) {
      assert.equal(matchingStep(secret, totpCode(secret, T - 1), now, null), T - 1);
      assert.equal(matchingStep(secret, totpCode(secret, T), now, null), T);
      assert.equal(matchingStep(secret, totpCode(secret, T + 1), now, null), T + 1);
      assert.equal(matchingStep(secret, totpCode(secret, T + 2), now, null), undefined);
      assert.equal(matchingStep(secret, totpCode(secret, T - 2), now, null), undefined);
    }
  });

  test("a step at or before the last accepted one is a replay; a later one is not", () => {
    const code = totpCode(secret, T);
    assert.equal(matchingStep(secret, code, start, T - 1), T);
    assert.equal(matchingStep(secret, code, start, T), undefined);
    assert.equal(matchingStep(secret, code, start, T + 1), undefined);
    assert.equal(matchingStep(secret, totpCode(secret, T + 1), start, T), T + 1);
    assert.equal(matchingStep(secret, code, start, 0), T, "step 0 accepted before: a last step of 0 is not 'none'");
  });

  test("another secret's code does not match", () => {
    const other = newTotpSecret();
    assert.notEqual(other, secret);
    const code = totpCode(other, T);
    if ([T - 1, T, T + 1].every((step) => totpCode(secret, step) !== code)) {
      assert.equal(matchingStep(secret, code, start, null), undefined);
    }
  });

  test("new secrets are 160 bits of base32, each different", () => {
    const secrets = new Set(Array.from({ length: 20 }, () => newTotpSecret()));
    assert.equal(secrets.size, 20);
    for (const s of secrets) assert.match(s, /^[A-Z2-7]{32}$/);
  });
});

describe("the TOTP secret at rest", () => {
  test("sealed, it opens for its user under this server's key, and holds no trace of the secret", () => {
    const secret = newTotpSecret();
    const sealed = sealTotpSecret(core, "user-1", secret);
    assert.ok(!sealed.includes(secret));
    assert.equal(openTotpSecret(core, "user-1", sealed), secret);
  });

  test("it does not open for another user (the user's id is bound in) nor under another server's key", () => {
    const sealed = sealTotpSecret(core, "user-1", newTotpSecret());
    assert.throws(() => openTotpSecret(core, "user-2", sealed));
    assert.throws(() => openTotpSecret(otherServer, "user-1", sealed));
  });

  test("the key is the one derived for TOTP secrets only (label `tokenver totp secret v1`), bound to `totp:<user>`", async () => {
    const { open } = await import("../../../../src/core/mail/seal.js");
    const secret = newTotpSecret();
    const sealed = sealTotpSecret(core, "user-1", secret);
    assert.equal(open(derive("tokenver totp secret v1"), "totp:user-1", sealed), secret);
    assert.throws(() => open(derive("tokenver recovery codes v1"), "totp:user-1", sealed));
    assert.throws(() => open(derive("tokenver totp secret v1"), "user-1", sealed));
  });
});

describe("recovery codes", () => {
  test("a set is 10 codes of 10 base32 characters, each stored as its keyed hash with its own id", () => {
    assert.equal(RECOVERY_CODE_COUNT, 10);
    assert.equal(RECOVERY_CODE_LENGTH, 10);
    const set = newRecoveryCodes(core, "user-1");
    assert.equal(set.codes.length, 10);
    assert.equal(set.rows.length, 10);
    assert.equal(new Set(set.codes).size, 10);
    assert.equal(new Set(set.rows.map((r) => r.id)).size, 10);
    set.codes.forEach((code, i) => {
      assert.match(code, /^[A-Z2-7]{10}$/);
      assert.equal(set.rows[i]!.hash, recoveryCodeHash(core, "user-1", code));
      assert.ok(!set.rows[i]!.hash.includes(code));
    });
  });

  test("codes use the whole base32 alphabet (50 random bits each)", () => {
    const seen = new Set(
      Array.from({ length: 40 }, () => newRecoveryCodes(core, "u").codes.join(""))
        .join("")
        .split(""),
    );
    assert.deepEqual([...seen].sort().join(""), "234567ABCDEFGHIJKLMNOPQRSTUVWXYZ");
  });

  test("the hash is HMAC-SHA-256 under the recovery-code key, of `<user>:<code>`: bound to the user", () => {
    const expected = createHmac("sha256", derive("tokenver recovery codes v1")).update("user-1:ABCDEFGH23").digest("hex");
    assert.equal(recoveryCodeHash(core, "user-1", "ABCDEFGH23"), expected);
    assert.notEqual(recoveryCodeHash(core, "user-2", "ABCDEFGH23"), expected);
    assert.notEqual(recoveryCodeHash(otherServer, "user-1", "ABCDEFGH23"), expected);
  });

  test("normalised: upper case, spaces and hyphens dropped", () => {
    assert.equal(normaliseRecoveryCode("abcde-fgh23"), "ABCDEFGH23");
    assert.equal(normaliseRecoveryCode(" ABCDE FGH23 "), "ABCDEFGH23");
    assert.equal(normaliseRecoveryCode("ab-cd\te-fg\nh2-3"), "ABCDEFGH23");
    assert.equal(normaliseRecoveryCode("ABCDEFGH23"), "ABCDEFGH23");
  });

  test("anything else cannot be a recovery code", () => {
    for (const bad of [
      "ABCDEFGH2",
      "ABCDEFGH234",
      "ABCDEFGH01",
      "ABCDEFGH8A",
      "ABCDEFGH2_",
      "ÄBCDEFGH23",
      "",
      "ABCDE.FGH23",
      "XABCDEFGH23".slice(0, 9),
    ]) {
      assert.equal(normaliseRecoveryCode(bad), undefined, JSON.stringify(bad));
    }
  });
});

describe("amr and challenges", () => {
  test("a TOTP code gives pwd otp mfa, a recovery code pwd mfa", () => {
    assert.deepEqual(amrFor("totp"), ["pwd", "otp", "mfa"]);
    assert.deepEqual(amrFor("recovery"), ["pwd", "mfa"]);
  });

  test("an mfa_token lives 300 s and dies after 5 wrong codes; its mode is cookie only when the request is", () => {
    assert.equal(MFA_TOKEN_TTL_SECONDS, 300);
    assert.equal(MFA_TOKEN_MAX_FAILURES, 5);
    assert.equal(modeOf({ mode: "cookie" }), "cookie");
    assert.equal(modeOf({ mode: "bearer" }), "bearer");
    assert.equal(modeOf({}), "bearer");
  });
});
