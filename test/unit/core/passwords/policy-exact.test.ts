// Unit tests for src/core/passwords/{form,policy}.ts, beside passwords.test.ts and form.test.ts, for
// Stryker's survivors of 2026-12-01: a hash from before the NFKC rule never accepts a wrong password
// sent in a non-normalised form (the `normalized !== password &&` guard made `||` accepted any such
// password unchecked); the exact field messages of the policy (the API's `errors[].message`); runs
// are one step apart only.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { verifyWithForms } from "../../../../src/core/passwords/form.js";
import { hashPassword } from "../../../../src/core/passwords/hashing.js";
import { checkPasswordPolicy, loadPasswordPolicy } from "../../../../src/core/passwords/policy.js";

before(() => loadPasswordPolicy());

describe("a hash from before the NFKC rule", () => {
  test("a wrong password that is not in NFKC form is refused", async () => {
    const legacy = await hashPassword("correct horse battery");
    for (const wrong of ["ｗｒｏｎｇ ｐａｓｓｗｏｒｄ", "ﬁne wrong", "cafe\u0301 wrong"]) {
      assert.notEqual(wrong.normalize("NFKC"), wrong, "not normalised");
      assert.deepEqual(await verifyWithForms(legacy, wrong), { ok: false }, wrong);
    }
  });
});

describe("the policy's messages", () => {
  const message = async (password: string) => (await checkPasswordPolicy(password))[0]?.message;

  test("each rule's message, exactly", async () => {
    assert.equal(await message("short"), "must be at least 8 characters");
    assert.equal(await message("x".repeat(257)), "must be at most 256 characters");
    assert.equal(await message("password"), "is too common; choose a less guessable password");
    assert.equal(await message("my long pass \u0378"), "must not contain unassigned Unicode code points");
  });

  test("a run is one step apart: two steps, or a symbol before a run, is no run", async () => {
    assert.deepEqual(await checkPasswordPolicy("acegikmo"), [], "a step of two");
    assert.deepEqual(await checkPasswordPolicy("`abcdefg"), [], "a backtick (one below a) before a run");
    assert.deepEqual(await checkPasswordPolicy("stuvwxyz{"), [], "a brace (one above z) after a run");
  });
});
