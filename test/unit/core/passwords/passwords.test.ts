// Unit tests for src/core/passwords/{hashing,policy}.ts: the password policy (checkPasswordPolicy after
// loadPasswordPolicy) and argon2id hashing (hashPassword, verifyPassword, verifyDummyPassword).
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { dictionary } from "@zxcvbn-ts/language-common";
import type { FieldError } from "../../../../src/core/errors.js";
import { checkPasswordPolicy } from "../../../../src/core/passwords/policy.js";
import { NOT_WELL_FORMED } from "../../../../src/core/validation.js";
import { hashPassword, verifyDummyPassword, verifyPassword } from "../../../../src/core/passwords/hashing.js";
import { loadPasswordPolicy } from "../../../../src/core/passwords/policy.js";

const COMMON = new Set(dictionary["passwords-common"].map((p) => p.toLowerCase()));
/** Distinct astral-plane characters: two UTF-16 code units each, one code point each. */
const ASTRAL = [..."🦊🐻🐼🐨🐯🦁🐮🐷🐸🐵🐔🐧🐦🐤🦆🦅🦉🦇🐺🐗"];

/**
 * The message each rule gives, taken from inputs where only that rule can fire, so the tests
 * below tell the rules apart without depending on their wording.
 */
let TOO_SHORT: string;
let TOO_LONG: string;
let TOO_COMMON: string;

async function only(password: string, field = "password"): Promise<FieldError> {
  const errors = await checkPasswordPolicy(password, field);
  assert.equal(errors.length, 1, `${JSON.stringify(password)}: exactly one error: ${JSON.stringify(errors)}`);
  assert.equal(errors[0]!.field, field);
  return errors[0]!;
}

async function assertRefused(password: string, message: string, why: string) {
  assert.deepEqual(await checkPasswordPolicy(password), [{ field: "password", message }], `${JSON.stringify(password)} (${why})`);
}

async function assertAccepted(password: string, why: string) {
  assert.deepEqual(await checkPasswordPolicy(password), [], `${JSON.stringify(password)} (${why})`);
}

before(async () => {
  await loadPasswordPolicy();
  TOO_SHORT = (await only("x")).message;
  TOO_LONG = (await only("x".repeat(10_000))).message;
  TOO_COMMON = (await only("password")).message;
});

describe("checkPasswordPolicy: length in code points", () => {
  test("the three rules give three different messages", () => {
    assert.equal(new Set([TOO_SHORT, TOO_LONG, TOO_COMMON]).size, 3);
  });

  test("7 characters are too short, 8 are enough", async () => {
    await assertRefused("k7#Qp2x", TOO_SHORT, "7 characters");
    await assertAccepted("k7#Qp2xL", "8 characters");
    await assertRefused("", TOO_SHORT, "empty");
  });

  test("astral characters count once each: 8 distinct pass, 7 distinct do not", async () => {
    const eight = ASTRAL.slice(0, 8).join("");
    const seven = ASTRAL.slice(0, 7).join("");
    assert.equal(eight.length, 16, "16 UTF-16 code units");
    await assertAccepted(eight, "8 distinct code points");
    await assertRefused(seven, TOO_SHORT, "7 distinct code points, 14 code units");
    await assertRefused(ASTRAL.slice(0, 4).join(""), TOO_SHORT, "4 code points, 8 code units");
  });

  test("256 characters pass, 257 are too long", async () => {
    await assertAccepted("a".repeat(256), "256 ASCII");
    await assertRefused("a".repeat(257), TOO_LONG, "257 ASCII");
  });

  test("the maximum is in code points too: 256 astral characters (512 code units) pass, 257 do not", async () => {
    await assertAccepted("🦊".repeat(256), "256 code points");
    await assertRefused("🦊".repeat(257), TOO_LONG, "257 code points");
  });

  test("the field name is the one given", async () => {
    assert.equal((await only("short", "new_password")).field, "new_password");
    assert.deepEqual(await checkPasswordPolicy("k7#Qp2xL", "new_password"), []);
  });
});

describe("checkPasswordPolicy: Unicode (NFKC, unassigned code points, lone surrogates)", () => {
  test("a lone surrogate, of either half, is not well-formed text: refused on the field given", async () => {
    for (const password of ["\ud800 my long pass", "\udfff my long pass", "my long pass \ud83d"]) {
      assert.deepEqual(await checkPasswordPolicy(password, "newPassword"), [{ field: "newPassword", message: NOT_WELL_FORMED }]);
    }
    await assertAccepted("\ufffd my long pass", "U+FFFD itself is a character");
  });

  test("unassigned code points are refused (RFC 8265); private use is not", async () => {
    const unassigned = (await only("my long pass \u0378")).message;
    assert.ok(![TOO_SHORT, TOO_LONG, TOO_COMMON, NOT_WELL_FORMED].includes(unassigned));
    for (const password of ["my long pass \u{e01f0}", "my long pass \ufdd0", "my long pass \uffff", "my long pass \u{10ffff}"]) {
      await assertRefused(password, unassigned, "unassigned or a noncharacter");
    }
    await assertAccepted("my long pass \ue000", "private use is assigned");
  });

  test("the length counts code points of the NFKC form", async () => {
    // 8 code points as sent, 6 once each e + combining acute becomes é.
    await assertRefused("k7#Q" + "e\u0301".repeat(2), TOO_SHORT, "8 sent, 6 normalised");
    await assertAccepted("k7#Qp2x" + "e\u0301", "9 sent, 8 normalised");
    // U+FDFA is one code point and 18 once normalised: 15 of them are 270.
    await assertRefused("\ufdfa".repeat(15), TOO_LONG, "15 sent, 270 normalised");
    await assertAccepted("\ufdfa", "1 sent, 18 normalised");
  });

  test("the common list and the patterns judge the NFKC form", async () => {
    await assertRefused("ｐａｓｓｗｏｒｄ", TOO_COMMON, "full-width password");
    await assertRefused("８８８８８８８８", TOO_COMMON, "full-width repeat");
  });
});

describe("checkPasswordPolicy: common passwords", () => {
  test("passwords on the common list are refused, case-insensitively", async () => {
    for (const password of ["password", "iloveyou", "sunshine", "qwertyuiop", "PASSWORD", "IloveYou"]) {
      assert.ok(COMMON.has(password.toLowerCase()), `${password} is on the list`);
      await assertRefused(password, TOO_COMMON, "common");
    }
  });
});

describe("checkPasswordPolicy: repeats and runs up to 20 characters", () => {
  // None of these is on the common list: only the pattern rule can refuse them.
  const patterns = {
    "one repeated character": "88888888",
    "one repeated letter": "aaaaaaaa",
    "repeated pair": "abababab",
    "repeated triple": "abcabcabc",
    "repeated four": "12341234",
    "repeated astral character": "🦊".repeat(8),
    "repeated unit of three astral characters": "🦊🐻🐼".repeat(3),
    "a repeat that differs only in case": "aaaaAAAA",
    "ascending letters": "abcdefgh",
    "ascending letters, upper case": "ABCDEFGH",
    "ascending letters, mixed case": "aBcDeFgH",
    "descending letters": "zyxwvuts",
    "descending digits": "987654321",
    "a repeat of 20": "ab".repeat(10),
    "a run of 20": "abcdefghijklmnopqrst",
  };
  for (const [what, password] of Object.entries(patterns)) {
    test(`${what} is refused: ${password}`, async () => {
      assert.ok(!COMMON.has(password.toLowerCase()), "not on the common list");
      await assertRefused(password, TOO_COMMON, what);
    });
  }

  test("longer than 20 characters, repeats and runs are accepted", async () => {
    await assertAccepted("a".repeat(21), "21 x a");
    await assertAccepted("abc".repeat(7), "abc x 7");
    await assertAccepted("abcdefghijklmnopqrstu", "a run of 21");
    await assertAccepted("a".repeat(64), "64 x a");
  });

  test("near-patterns are accepted", async () => {
    const near = {
      "a repeated unit of five": "abcdeabcde",
      "a step of two": "13579bdf",
      "a broken run": "abcdefgi",
      "a run of punctuation (runs are letters and digits only)": "!\"#$%&'(",
      "a repeat with one change": "88888889",
    };
    for (const [what, password] of Object.entries(near)) {
      assert.ok(!COMMON.has(password.toLowerCase()), `${what}: not on the common list`);
      await assertAccepted(password, what);
    }
  });
});

describe("argon2id hashing", () => {
  test("hash and verify round trip", async () => {
    const password = "correct horse battery staple 🦊";
    const hash = await hashPassword(password);
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.ok(!hash.includes(password));
    assert.equal(await verifyPassword(hash, password), true);
    assert.equal(await verifyPassword(hash, "correct horse battery staple"), false);
  });

  test("a malformed stored hash verifies false instead of throwing", async () => {
    assert.equal(await verifyPassword("not a hash", "whatever"), false);
    assert.equal(await verifyPassword("", "whatever"), false);
  });

  test("verifyDummyPassword resolves false", async () => {
    assert.equal(await verifyDummyPassword("any password at all"), false);
  });
});
