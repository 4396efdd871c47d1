// Exact behaviour of src/core/validation.ts beyond validation.test.ts: the order and spelling of
// the error fields (a client matches on them), the custom fields' schemas and what is picked from
// a body, the id check every store lookup goes through (a NUL or an over-long id must never reach
// PostgreSQL), and the boundaries of the email and username checks.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Type } from "typebox";
import { EMAIL_MAX_LENGTH, USERNAME_MAX_LENGTH } from "../../../src/core/limits.js";
import {
  checkLookupEmail,
  checkNewEmail,
  checkUsername,
  fieldOf,
  HOLDS_NUL,
  illFormedPaths,
  isStorableId,
  NOT_WELL_FORMED,
  pickFields,
  profileSchemas,
  requireStrings,
  schemaErrors,
  wellFormedErrors,
} from "../../../src/core/validation.js";

const BAD = "\ud800";

describe("the messages a client reads", () => {
  test("say what is wrong: the other tests compare against these constants, so their text is pinned here", () => {
    // Both reach clients verbatim in `errors[].message` (over HTTP through http/body-validator.ts too).
    assert.equal(NOT_WELL_FORMED, "must be well-formed Unicode text (it holds an unpaired surrogate)");
    assert.equal(HOLDS_NUL, "must not hold U+0000 (NUL)");
  });
});

describe("paths of ill-formed strings", () => {
  test("are sorted by path whatever the walk's order, so errors come out stable", () => {
    // The walk pops from a stack: without the sort these would come out in reverse.
    assert.deepEqual(illFormedPaths({ a: BAD, b: BAD, c: BAD }), [["a"], ["b"], ["c"]]);
    assert.deepEqual(illFormedPaths([BAD, "ok", BAD, BAD]), [["0"], ["2"], ["3"]]);
    assert.deepEqual(illFormedPaths({ z: [BAD], a: { y: BAD, b: BAD } }), [
      ["a", "b"],
      ["a", "y"],
      ["z", "0"],
    ]);
  });

  test("compare key by key: a shorter path that is a prefix comes first, and a.b before a-b", () => {
    // Joined with U+0000 (below every character a key can hold here), not ".": ["a","b"] < ["a-b"].
    assert.deepEqual(illFormedPaths({ "a-b": BAD, a: { b: BAD } }), [["a", "b"], ["a-b"]]);
    // A key and a longer key it starts: "a" before "ab".
    assert.deepEqual(illFormedPaths({ ab: BAD, a: BAD }), [["a"], ["ab"]]);
  });

  test("an ill-formed key names its object once, however many bad keys it holds, and its other values are still walked", () => {
    assert.deepEqual(illFormedPaths({ o: { [`x${BAD}`]: 1, [`y${BAD}`]: 2, ok: BAD } }), [["o"], ["o", "ok"]]);
    // What a bad key holds is not walked: a field name must never spell out the bad key itself.
    assert.deepEqual(illFormedPaths({ o: { [`k${BAD}`]: BAD } }), [["o"]]);
    // A well-formed key alone names nothing.
    assert.deepEqual(illFormedPaths({ o: { k: "v" } }), []);
  });

  test("the root itself is the empty path; a field prefix names it", () => {
    assert.deepEqual(wellFormedErrors(BAD), [{ field: "", message: NOT_WELL_FORMED }]);
    assert.deepEqual(wellFormedErrors({ [`k${BAD}`]: 1 }, "profile"), [{ field: "profile", message: NOT_WELL_FORMED }]);
    assert.deepEqual(wellFormedErrors([["x", BAD]], "tags"), [{ field: "tags.0.1", message: NOT_WELL_FORMED }]);
  });
});

describe("requireStrings", () => {
  test("a missing body is every field missing: the first one named", () => {
    assert.deepEqual(requireStrings(undefined, ["email", "password"]), [{ field: "email", message: "must be a string" }]);
    assert.deepEqual(requireStrings(null, ["code"]), [{ field: "code", message: "must be a string" }]);
  });

  test("the first field that is not a string, in the order asked, even after a good one", () => {
    assert.deepEqual(requireStrings({ email: "a@example.com", password: 5 }, ["email", "password"]), [
      { field: "password", message: "must be a string" },
    ]);
  });

  test("fields not asked for are not looked at", () => {
    assert.deepEqual(requireStrings({ email: "a@example.com", extra: BAD, other: 5 }, ["email"]), []);
  });
});

describe("custom fields", () => {
  const fields = { nick: Type.String(), age: Type.Optional(Type.Number()) };

  test("the profile schema refuses keys that are not configured and needs the required ones; the patch makes every field optional", () => {
    const { profile, patch } = profileSchemas(fields);
    assert.deepEqual(schemaErrors(profile, { nick: "n" }), []);
    assert.notDeepEqual(schemaErrors(profile, { nick: "n", admin: true }), []);
    assert.deepEqual(
      schemaErrors(profile, {}).map((e) => e.field),
      ["nick"],
    );
    assert.deepEqual(schemaErrors(patch, {}), []);
    assert.deepEqual(schemaErrors(patch, { age: 3 }), []);
    assert.deepEqual(
      schemaErrors(patch, { nick: 5 }).map((e) => e.field),
      ["nick"],
    );
  });

  test("pickFields takes the configured fields present, and nothing else", () => {
    assert.deepEqual(pickFields({ nick: "n", age: 3, admin: true, email: "x" }, fields), { nick: "n", age: 3 });
    // An explicit undefined is absent; null and other falsy values are present.
    assert.deepEqual(pickFields({ nick: undefined, age: 0 }, fields), { age: 0 });
    assert.deepEqual(pickFields({ nick: null }, fields), { nick: null });
    // An inherited key is not the body's own.
    assert.deepEqual(pickFields(Object.create({ nick: "inherited" }) as Record<string, unknown>, fields), {});
  });

  test("schema errors, then ill-formed strings, then NUL, each with its field", () => {
    const schema = Type.Object({ nick: Type.String(), bio: Type.String(), n: Type.Number() });
    assert.deepEqual(schemaErrors(schema, { nick: BAD, bio: "a\u0000", n: "x" }), [
      { field: "n", message: "must be number" },
      { field: "nick", message: NOT_WELL_FORMED },
      { field: "bio", message: HOLDS_NUL },
    ]);
  });
});

describe("fieldOf", () => {
  test("the instance path, dotted", () => {
    assert.equal(fieldOf({ instancePath: "/profile/tags/0" }), "profile.tags.0");
    assert.equal(fieldOf({ instancePath: "" }), "");
    assert.equal(fieldOf({}), "");
    // Only the leading slash goes; a key "a/b" has been escaped by then, every other slash is a dot.
    assert.equal(fieldOf({ instancePath: "/a/b/c" }), "a.b.c");
  });

  test("a missing property is named under its path (Ajv's missingProperty, TypeBox's requiredProperties)", () => {
    assert.equal(fieldOf({ instancePath: "", params: { missingProperty: "email" } }), "email");
    assert.equal(fieldOf({ instancePath: "/profile", params: { missingProperty: "nick" } }), "profile.nick");
    assert.equal(fieldOf({ instancePath: "", params: { requiredProperties: ["nick", "age"] } }), "nick");
    assert.equal(fieldOf({ instancePath: "/inner", params: { requiredProperties: ["a"] } }), "inner.a");
    // missingProperty wins when both are there.
    assert.equal(fieldOf({ instancePath: "", params: { missingProperty: "x", requiredProperties: ["y"] } }), "x");
  });

  test("params that name no property leave the path alone", () => {
    assert.equal(fieldOf({ instancePath: "/age", params: { type: "number" } }), "age");
    assert.equal(fieldOf({ instancePath: "/age", params: { missingProperty: 5 } }), "age");
    assert.equal(fieldOf({ instancePath: "/age", params: { requiredProperties: "nick" } }), "age");
    assert.equal(fieldOf({ instancePath: "/age", params: { requiredProperties: [5] } }), "age");
    assert.equal(fieldOf({ instancePath: "/age", params: null }), "age");
  });

  test("TypeBox's own errors name the field", () => {
    const schema = Type.Object({ nick: Type.String(), inner: Type.Object({ a: Type.String() }) });
    assert.deepEqual(
      schemaErrors(schema, { inner: {} }).map((e) => e.field),
      ["nick", "inner.a"],
    );
    assert.deepEqual(
      schemaErrors(schema, { nick: "n", inner: {} }).map((e) => e.field),
      ["inner.a"],
    );
  });
});

describe("isStorableId", () => {
  test("a string of 1 to maxLength characters without NUL", () => {
    assert.equal(isStorableId("a", 64), true);
    assert.equal(isStorableId("a".repeat(64), 64), true);
    assert.equal(isStorableId("a".repeat(65), 64), false);
    assert.equal(isStorableId("", 64), false);
    assert.equal(isStorableId("\u0000", 64), false);
    assert.equal(isStorableId("abc\u0000def", 64), false);
    assert.equal(isStorableId("\u0001", 64), true);
  });

  test("anything else is no id", () => {
    for (const value of [undefined, null, 5, ["a"], { length: 1 }, true]) assert.equal(isStorableId(value, 64), false, String(value));
  });
});

describe("email boundaries", () => {
  const local = (n: number) => "a".repeat(n);
  test(`a key of exactly ${EMAIL_MAX_LENGTH} characters is taken, one more is not`, () => {
    const at = (length: number) => `${local(length - "@example.com".length)}@example.com`;
    assert.deepEqual(checkNewEmail(at(EMAIL_MAX_LENGTH)).errors, []);
    assert.deepEqual(checkNewEmail(at(EMAIL_MAX_LENGTH + 1)).errors, [{ field: "email", message: "must be a valid email address" }]);
  });

  test("a refused address still answers its key; a malformed one too", () => {
    assert.deepEqual(checkNewEmail(" Ali\u200bce@Example.com"), {
      email: "ali\u200bce@example.com",
      errors: [{ field: "email", message: "must not contain control, invisible or text-direction characters" }],
    });
    assert.deepEqual(checkNewEmail("No-At-Sign"), {
      email: "no-at-sign",
      errors: [{ field: "email", message: "must be a valid email address" }],
    });
    assert.deepEqual(checkNewEmail(5), { email: "", errors: [{ field: "email", message: "must be a valid email address" }] });
    assert.deepEqual(checkNewEmail(`a${BAD}@example.com`), { email: "", errors: [{ field: "email", message: NOT_WELL_FORMED }] });
  });

  test("controls around the address are trimmed before the refusal, not refused", () => {
    // A tab or a newline pasted with the address is whitespace the key drops, not part of it.
    assert.deepEqual(checkNewEmail("\talice@example.com\n"), { email: "alice@example.com", errors: [] });
    assert.deepEqual(checkNewEmail("\r\nalice@example.com\r"), { email: "alice@example.com", errors: [] });
  });

  test("the whole key must match: nothing before the local part, nothing after the domain", () => {
    for (const email of ["a@example.com/", "a@example.com:25", "a@example.com!", "a@-.c_m"]) {
      assert.deepEqual(checkNewEmail(email).errors, [{ field: "email", message: "must be a valid email address" }], email);
    }
  });

  test("a domain that UTS #46 cannot convert is refused even when the key looks like an address", () => {
    // "xn--zz" is no valid A-label: the key keeps it, but the conversion failed.
    assert.deepEqual(checkNewEmail("a@xn--zz.com").errors, [{ field: "email", message: "must be a valid email address" }]);
    assert.deepEqual(checkNewEmail("a@xn--bcher-kva.example").errors, []);
  });

  test("a control character in the key alone is refused at lookup with its own message", () => {
    assert.deepEqual(checkLookupEmail("a\u0007b@example.com"), [{ field: "email", message: "must not contain control characters" }]);
    // A control before the address is trimmed away by the key: a tab or newline around it is fine.
    assert.deepEqual(checkLookupEmail("\talice@example.com\n"), []);
  });
});

describe("username boundaries", () => {
  const REFUSED = `must be null or a non-empty string of at most ${USERNAME_MAX_LENGTH} characters, without control, invisible or text-direction characters`;

  test("the exact refusal, counted in code points", () => {
    assert.deepEqual(checkUsername("x".repeat(USERNAME_MAX_LENGTH)), []);
    assert.deepEqual(checkUsername("x".repeat(USERNAME_MAX_LENGTH + 1)), [{ field: "username", message: REFUSED }]);
    // 64 astral characters are 128 UTF-16 units, and still 64 characters.
    assert.deepEqual(checkUsername("\u{1d400}".repeat(USERNAME_MAX_LENGTH)), []);
    assert.deepEqual(checkUsername("\u{1d400}".repeat(USERNAME_MAX_LENGTH + 1)), [{ field: "username", message: REFUSED }]);
    assert.deepEqual(checkUsername(undefined), [{ field: "username", message: REFUSED }]);
    assert.deepEqual(checkUsername(" \t "), [{ field: "username", message: REFUSED }]);
  });

  // Found by the mutation run of 2026-12-02: the blank check was `trim()` alone, and the joiner and
  // the selectors were removed only for the invisible-character check.
  test("a name of nothing but joiners and variation selectors is blank, and refused", () => {
    for (const name of ["\u200d", "\u200d\u200d\u200d", "\ufe0f", " \u200d\ufe0e "]) {
      assert.deepEqual(checkUsername(name), [{ field: "username", message: REFUSED }], JSON.stringify(name));
    }
  });

  test("the joiner and the emoji selectors are allowed anywhere, not just once; other invisibles are not", () => {
    assert.deepEqual(checkUsername("a\u200db\u200dc\ufe0fd\ufe0e"), []);
    assert.deepEqual(checkUsername("a\u200db\u200bc"), [{ field: "username", message: REFUSED }]);
  });
});
