// Unit tests for src/core/tokens/bearer.ts (parseBearer): the Authorization header, RFC 6750 section 2.1.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AuthError, type ErrorCode } from "../../../../src/core/errors.js";
import { parseBearer } from "../../../../src/core/tokens/bearer.js";

/** The AuthError parseBearer throws for `header`; fails the test if it returns instead. */
function refusal(header: string | null | undefined): AuthError {
  try {
    const token = parseBearer(header);
    assert.fail(`${JSON.stringify(header)} was accepted as ${JSON.stringify(token)}`);
  } catch (error) {
    assert.ok(error instanceof AuthError, `${JSON.stringify(header)}: not an AuthError: ${String(error)}`);
    return error;
  }
}

function assertRefused(header: string | null | undefined, code: ErrorCode) {
  const error = refusal(header);
  assert.equal(error.code, code, `${JSON.stringify(header)}: code`);
  assert.equal(error.status, 401, `${JSON.stringify(header)}: status`);
  // token_invalid answers with error="invalid_token" (a token was presented); token_missing without.
  assert.equal(error.tokenPresented, code === "token_invalid", `${JSON.stringify(header)}: tokenPresented`);
}

describe("parseBearer: accepted headers", () => {
  test("the scheme is case-insensitive", () => {
    for (const scheme of ["Bearer", "bearer", "BEARER", "bEaReR"])
      assert.equal(parseBearer(`${scheme} abc.def.ghi`), "abc.def.ghi", scheme);
  });

  test("one or more spaces separate scheme and token", () => {
    assert.equal(parseBearer("Bearer abc"), "abc");
    assert.equal(parseBearer("Bearer     abc"), "abc");
  });

  test("surrounding whitespace of the header value is ignored", () => {
    assert.equal(parseBearer("  Bearer abc  "), "abc");
    assert.equal(parseBearer("\tBearer abc\t"), "abc");
  });

  test("every token68 character is accepted, with trailing = padding", () => {
    const token68 = "AZaz09-._~+/";
    assert.equal(parseBearer(`Bearer ${token68}`), token68);
    assert.equal(parseBearer("Bearer abc="), "abc=");
    assert.equal(parseBearer("Bearer abc=="), "abc==");
  });

  test("the token is returned exactly, case preserved", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.Sig_-Nat";
    assert.equal(parseBearer(`Bearer ${jwt}`), jwt);
  });
});

describe("parseBearer: token_missing (no token presented)", () => {
  test("no header, or an empty or blank one", () => {
    for (const header of [undefined, null, "", "   ", "\t"]) assertRefused(header, "token_missing");
  });

  test("another scheme is token_missing, not token_invalid", () => {
    assertRefused(`Basic ${Buffer.from("a:b").toString("base64")}`, "token_missing");
    assertRefused("Token abc", "token_missing");
    assertRefused("DPoP abc", "token_missing");
    assertRefused("abc.def.ghi", "token_missing");
  });

  test("a token glued to the scheme is another scheme", () => {
    assertRefused("Bearerabc", "token_missing");
    assertRefused("BearerBearer abc", "token_missing");
  });

  test("onlyBearer (the HTTP adapters, docs/api.md section 6): another scheme is token_invalid, with no token presented", () => {
    for (const header of [`Basic ${Buffer.from("a:b").toString("base64")}`, "Token abc", "Bearerabc"]) {
      try {
        parseBearer(header, true);
        assert.fail(`${header} was accepted`);
      } catch (error) {
        assert.ok(error instanceof AuthError);
        assert.equal(error.code, "token_invalid", header);
        assert.equal(error.tokenPresented, false, header);
      }
    }
    assert.equal(parseBearer("Bearer abc", true), "abc");
    assert.equal(refusal(undefined).code, "token_missing");
  });
});

describe("parseBearer: token_invalid (a Bearer header without a well-formed token)", () => {
  test("Bearer with nothing after it", () => {
    for (const header of ["Bearer", "bearer", "Bearer ", "Bearer     "]) assertRefused(header, "token_invalid");
  });

  test("a separator other than spaces", () => {
    assertRefused("Bearer\tabc", "token_invalid");
    assertRefused("Bearer\nabc", "token_invalid");
  });

  test("extra parts or a list of tokens", () => {
    assertRefused("Bearer abc def", "token_invalid");
    assertRefused("Bearer abc,def", "token_invalid");
    assertRefused("Bearer abc,", "token_invalid");
    assertRefused("Bearer abc, Bearer def", "token_invalid");
    assertRefused("Bearer abc\ndef", "token_invalid");
  });

  test("characters outside token68, and = anywhere but at the end", () => {
    for (const token of ["a=b", "=abc", "a b", 'a"b', "a;b", "a\\b", "a*b", "é", "a%20b", "a:b"]) {
      assertRefused(`Bearer ${token}`, "token_invalid");
    }
  });
});
