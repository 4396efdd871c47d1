// Unit tests for src/core/validation.ts (and the email key of src/lib/email-key.ts): text is Unicode
// done right (docs/api.md section 3). Well-formed strings in every field, the email lookup key
// (NFKC, trimmed, lower-cased, the domain in ASCII by UTS #46), the characters an address or a
// username may not hold.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Type } from "typebox";
import {
  checkLookupEmail,
  checkNewEmail,
  checkUsername,
  illFormedPaths,
  isWellFormed,
  normalizeEmail,
  NOT_WELL_FORMED,
  requireStrings,
  HOLDS_NUL,
  schemaErrors,
  wellFormedErrors,
} from "../../../src/core/validation.js";
import { emailKey } from "../../../src/lib/email-key.js";

const LONE = ["\ud800", "\udfff", "x\udc00y", "\ud83d", "🦊\ud83d"];

describe("well-formed text", () => {
  test("isWellFormed: lone surrogates of either half, anywhere, are not; pairs and U+FFFD are", () => {
    for (const s of LONE) assert.equal(isWellFormed(s), false, JSON.stringify(s));
    for (const s of ["", "plain", "\ufffd", "🦊", "\ud83e\udd8a"]) assert.equal(isWellFormed(s), true, JSON.stringify(s));
  });

  test("illFormedPaths names every ill-formed string by its path, in objects and arrays", () => {
    const body = { email: "a\ud800@example.com", ok: "fine", profile: { nick: "\udfff", tags: ["a", "b\ud800"] }, n: 5, z: null };
    assert.deepEqual(illFormedPaths(body), [["email"], ["profile", "nick"], ["profile", "tags", "1"]]);
    assert.deepEqual(illFormedPaths("\ud800"), [[]]);
    assert.deepEqual(illFormedPaths({ email: "a@example.com", list: [1, true, null] }), []);
  });

  test("an object with an ill-formed key is named itself", () => {
    assert.deepEqual(illFormedPaths({ profile: { ["k\ud800"]: "v" } }), [["profile"]]);
  });

  test("a body nested 100,000 deep is walked without overflowing the stack", () => {
    let deep: unknown = "\ud800";
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(illFormedPaths({ deep }).length, 1);
  });

  test("wellFormedErrors: dotted fields under a prefix, one message", () => {
    assert.deepEqual(wellFormedErrors({ a: { b: "\ud800" } }), [{ field: "a.b", message: NOT_WELL_FORMED }]);
    assert.deepEqual(wellFormedErrors("\ud800", "password"), [{ field: "password", message: NOT_WELL_FORMED }]);
  });

  test("requireStrings: a type error first, then every ill-formed field", () => {
    assert.deepEqual(requireStrings({ email: 1, password: "\ud800" }, ["email", "password"]), [
      { field: "email", message: "must be a string" },
    ]);
    assert.deepEqual(requireStrings({ email: "a\ud800", password: "\udfff" }, ["email", "password"]), [
      { field: "email", message: NOT_WELL_FORMED },
      { field: "password", message: NOT_WELL_FORMED },
    ]);
    assert.deepEqual(requireStrings({ email: "a@example.com", password: "pass" }, ["email", "password"]), []);
  });

  test("schemaErrors: custom fields that pass their schema but hold a lone surrogate fail", () => {
    const schema = Type.Object({ nick: Type.String(), tags: Type.Optional(Type.Array(Type.String())) });
    assert.deepEqual(schemaErrors(schema, { nick: "ok", tags: ["x"] }), []);
    assert.deepEqual(schemaErrors(schema, { nick: "\ud800", tags: ["x", "\udfff"] }), [
      { field: "nick", message: NOT_WELL_FORMED },
      { field: "tags.1", message: NOT_WELL_FORMED },
    ]);
  });

  test("schemaErrors: a string or a key holding U+0000 fails (PostgreSQL's jsonb cannot store it), wherever it sits", () => {
    const schema = Type.Object({ nick: Type.String(), extra: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()))) });
    assert.deepEqual(schemaErrors(schema, { nick: "a\u0000b" }), [{ field: "nick", message: HOLDS_NUL }]);
    assert.deepEqual(schemaErrors(schema, { nick: "ok", extra: { k: ["x", "\u0000"] } }), [{ field: "extra.k.1", message: HOLDS_NUL }]);
    assert.deepEqual(schemaErrors(schema, { nick: "ok", extra: { "a\u0000": [] } }), [{ field: "extra", message: HOLDS_NUL }]);
    // U+0001 and the escape's spelling as text are ordinary characters here.
    assert.deepEqual(schemaErrors(schema, { nick: "\u0001 \\u0000" }), []);
  });
});

describe("the email lookup key", () => {
  test("trimmed and lower-cased, as before", () => {
    assert.equal(normalizeEmail("  Alice@Example.COM \n"), "alice@example.com");
  });

  test("NFKC: full-width letters and the full-width @ are the ASCII address", () => {
    assert.equal(normalizeEmail("ａｌｉｃｅ@example.com"), "alice@example.com");
    assert.equal(normalizeEmail("alice＠ｅｘａｍｐｌｅ．ｃｏｍ"), "alice@example.com");
    assert.equal(normalizeEmail("ＡＬＩＣＥ@example.com"), "alice@example.com");
  });

  test("NFC and NFD are one key (the composed form)", () => {
    assert.equal(normalizeEmail("jose\u0301@example.com"), "jos\u00e9@example.com");
    assert.equal(normalizeEmail("JOSE\u0301@example.com"), "jos\u00e9@example.com");
    assert.equal(normalizeEmail("jos\u00e9@example.com"), "jos\u00e9@example.com");
  });

  test("the domain in ASCII by UTS #46: a U-label and its A-label are one key", () => {
    assert.equal(normalizeEmail("a@Bücher.example"), "a@xn--bcher-kva.example");
    assert.equal(normalizeEmail("a@xn--bcher-kva.example"), "a@xn--bcher-kva.example");
    assert.equal(normalizeEmail("a@BÜCHER.example"), "a@xn--bcher-kva.example");
    // Nontransitional: ß stays itself (an A-label of its own), as browsers resolve it.
    assert.equal(normalizeEmail("a@faß.de"), "a@xn--fa-hia.de");
  });

  test("the URL host parser's other habits never reach the key", () => {
    // domainToASCII percent-decodes, cuts at # / ?, and reads a numeric last label as IPv4.
    assert.equal(normalizeEmail("a@x%41.com"), "a@x%41.com");
    assert.equal(normalizeEmail("a@ex#ample.com"), "a@ex#ample.com");
    assert.equal(normalizeEmail("a@1.2.3"), "a@1.2.3");
    assert.equal(normalizeEmail("a@0x7f.1"), "a@0x7f.1");
  });

  test("a key is its own key (the migration and a second normalisation change nothing)", () => {
    const samples = [
      "ａｌｉｃｅ@example.com",
      "JOSE\u0301@Bücher.example",
      "\u0130stanbul@example.com",
      "ǅemal@example.com",
      "ᴬᴮ@example.com",
      "ﬃ@example.com",
      "x\u200b@example.com",
      "no-at-sign",
      "a@@b",
      "ⅻ@ⓔⓧⓐⓜⓟⓛⓔ.com",
    ];
    for (const sample of samples) assert.equal(emailKey(emailKey(sample)), emailKey(sample), JSON.stringify(sample));
    for (let c = 0x80; c <= 0x2fff; c++) {
      const sample = `${String.fromCodePoint(c)}a@${String.fromCodePoint(c)}x.com`;
      assert.equal(emailKey(emailKey(sample)), emailKey(sample), `U+${c.toString(16)}`);
    }
  });
});

describe("checkNewEmail", () => {
  const ok = (email: string) => {
    const result = checkNewEmail(email);
    assert.deepEqual(result.errors, [], JSON.stringify(email));
    return result.email;
  };
  const refused = (email: unknown) => {
    const result = checkNewEmail(email);
    assert.equal(result.errors.length, 1, JSON.stringify(email));
    assert.equal(result.errors[0]!.field, "email");
    return result.errors[0]!.message;
  };

  test("stores the key", () => {
    assert.equal(ok(" ＪＯＳＥ\u0301@Bücher.Example "), "jos\u00e9@xn--bcher-kva.example");
    assert.equal(ok("user+tag@sub.example.co.uk"), "user+tag@sub.example.co.uk");
  });

  test("a lone surrogate is not well-formed", () => {
    for (const s of LONE) assert.equal(refused(`a${s}@example.com`), NOT_WELL_FORMED);
  });

  test("invisible, direction and control characters are refused, wherever they are", () => {
    const messages = new Set<string>();
    for (const email of [
      "alice\u200b@example.com", // zero-width space before @
      "\u202ealice@example.com", // leading right-to-left override
      "ali\u00adce@example.com", // soft hyphen
      "alice@exa\u200bmple.com", // UTS #46 would drop it from the domain: refused, not folded
      "alice@exa\u00admple.com",
      "alice\u2066@example.com", // isolate
      "al\u200dice@example.com", // zero-width joiner
      "alice\ufeff@example.com",
      "ali\u0000ce@example.com",
      "ali\u007fce@example.com",
    ]) {
      messages.add(refused(email));
    }
    assert.equal(messages.size, 1, [...messages].join(" | "));
    assert.notEqual([...messages][0], NOT_WELL_FORMED);
  });

  test("syntax after normalising: one @, a domain that UTS #46 turns into ASCII labels", () => {
    for (const email of [
      "",
      "no-at-sign",
      "@example.com",
      "a@",
      "a b@example.com",
      "a@b",
      "a@@example.com",
      "a@ex#ample.com",
      "a@x%41.com",
      "a@1.2.3",
      "a@example.com.",
      "a@xn--zz.com",
      "a@exa_mple.com",
      "a@[127.0.0.1]",
      5,
      null,
    ]) {
      assert.equal(refused(email), "must be a valid email address");
    }
  });

  test("at most 254 characters, counted on the key", () => {
    const address = (d: number) => `${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(d)}.com`;
    assert.equal(address(57).length, 254);
    ok(address(57));
    refused(address(58));
    // Six labels of 15 CJK characters: 164 characters sent, about 290 as A-labels.
    const label = (start: number) => Array.from({ length: 15 }, (_, i) => String.fromCodePoint(start + i * 37)).join("");
    const labels = [0x4e00, 0x5000, 0x5200, 0x5400, 0x5600, 0x5800].map(label).join(".");
    const unicode = `${"a".repeat(64)}@${labels}.com`;
    assert.equal(unicode.length, 164);
    assert.ok(normalizeEmail(unicode).length > 254, normalizeEmail(unicode));
    refused(unicode);
  });
});

describe("checkLookupEmail (login)", () => {
  test("a lone surrogate and a control character are refused; nothing else is", () => {
    assert.deepEqual(checkLookupEmail("a\ud800@example.com"), [{ field: "email", message: NOT_WELL_FORMED }]);
    assert.equal(checkLookupEmail("a\u0000@example.com").length, 1);
    // Looked up, not refused: an account made before they were refused can still sign in.
    for (const email of ["alice\u200b@example.com", "\u202ealice@example.com", "anything", "a@ex#ample.com"]) {
      assert.deepEqual(checkLookupEmail(email), [], JSON.stringify(email));
    }
  });
});

describe("checkUsername", () => {
  test("null, a name, emoji with their joiners and variation selectors, 64 code points", () => {
    for (const name of [null, "Zoë", "Anna ❤️", "👩\u200d👩\u200d👧", "🦊".repeat(64), "ｆｕｌｌ", "שלום"]) {
      assert.deepEqual(checkUsername(name), [], JSON.stringify(name));
    }
  });

  test("a lone surrogate is not well-formed", () => {
    for (const s of LONE) assert.deepEqual(checkUsername(`bob${s}`), [{ field: "username", message: NOT_WELL_FORMED }]);
  });

  test("direction controls, other invisible characters, controls, blanks and 65 code points are refused", () => {
    for (const name of [
      "\u202ebob",
      "bob\u2067",
      "bo\u200bb",
      "bo\u00adb",
      "b\u2060ob",
      "b\u{e0041}ob",
      "bo\u0007b",
      "   ",
      "",
      "🦊".repeat(65),
      5,
    ]) {
      const errors = checkUsername(name);
      assert.equal(errors.length, 1, JSON.stringify(name));
      assert.equal(errors[0]!.field, "username");
      assert.notEqual(errors[0]!.message, NOT_WELL_FORMED);
    }
  });
});
