// Unit tests for src/http/body-validator.ts (compileBodyCheck, validationError): no coercion,
// unknown keys dropped, one error per missing property, union errors collapsed to one line per field,
// and strings that are not well-formed UTF-16 refused in every field.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Type } from "typebox";
import { compileBodyCheck, validationError } from "../../../src/http/body-validator.js";
import { NOT_WELL_FORMED } from "../../../src/core/validation.js";
import { toProblem } from "../../../src/http/problem.js";

const check = compileBodyCheck(
  Type.Object(
    {
      email: Type.String({ maxLength: 32 }),
      password: Type.String(),
      age: Type.Optional(Type.Integer({ minimum: 0 })),
      admin: Type.Optional(Type.Boolean()),
      username: Type.Optional(Type.Union([Type.String({ maxLength: 4 }), Type.Null()])),
      scope: Type.Optional(Type.Union([Type.Literal("all"), Type.Literal("session")])),
      profile: Type.Optional(Type.Object({ name: Type.String(), city: Type.String() }, { additionalProperties: false })),
    },
    { additionalProperties: false },
  ),
);

type SchemaError = NonNullable<ReturnType<typeof check>["errors"]>[number];

const valid = { email: "a@example.com", password: "secret" };

function errorsOf(body: unknown): SchemaError[] {
  const result = check(body);
  assert.equal(result.value, undefined, `${JSON.stringify(body)} should fail`);
  assert.ok(result.errors !== undefined && result.errors.length > 0);
  return result.errors;
}

/** The field each error names, as the problem document will (validationError + toProblem). */
function fieldsOf(body: unknown): string[] {
  const problem = toProblem(validationError(errorsOf(body)));
  assert.equal(problem.status, 400);
  assert.equal(problem.body.code, "validation_failed");
  return problem.body.errors!.map((e) => e.field);
}

describe("compileBodyCheck: no coercion", () => {
  test("a number where a string is expected fails", () => {
    const errors = errorsOf({ ...valid, email: 123 });
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.keyword, "type");
    assert.equal(errors[0]!.instancePath, "/email");
  });

  test('"5" is no integer, "true" no boolean, null no string, [] no object', () => {
    assert.deepEqual(fieldsOf({ ...valid, age: "5" }), ["age"]);
    assert.deepEqual(fieldsOf({ ...valid, admin: "true" }), ["admin"]);
    assert.deepEqual(fieldsOf({ ...valid, admin: 1 }), ["admin"]);
    assert.deepEqual(fieldsOf({ ...valid, password: null }), ["password"]);
    assert.deepEqual(fieldsOf({ ...valid, email: ["a@example.com"] }), ["email"]);
    assert.deepEqual(fieldsOf({ ...valid, age: 1.5 }), ["age"]);
  });

  test("a body that is not an object fails", () => {
    for (const body of [null, "string", 42, [], undefined]) assert.ok(check(body).errors !== undefined, JSON.stringify(body));
  });

  test("a valid body passes with its values unchanged (no string trimming or number conversion)", () => {
    const body = { email: " A@Example.com ", password: "x", age: 0, admin: false, username: null, scope: "all" };
    assert.deepEqual(check(structuredClone(body)), { value: body });
  });
});

describe("compileBodyCheck: unknown keys", () => {
  test("are dropped, at the top level and in nested objects, instead of failing", () => {
    const result = check({ ...valid, role: "admin", token_version: 0, profile: { name: "n", city: "c", isAdmin: true } });
    assert.equal(result.errors, undefined);
    assert.deepEqual(result.value, { ...valid, profile: { name: "n", city: "c" } });
  });

  test("a prototype key is not kept either", () => {
    const body = JSON.parse(`{"email":"a@example.com","password":"x","__proto__":{"admin":true}}`);
    const result = check(body);
    assert.equal(result.errors, undefined);
    assert.equal((result.value as { admin?: unknown }).admin, undefined);
    assert.equal(Object.hasOwn(result.value as object, "__proto__"), false);
  });
});

describe("compileBodyCheck: missing properties", () => {
  test("one error per missing property, each naming its field", () => {
    const errors = errorsOf({});
    assert.equal(errors.length, 2);
    assert.deepEqual(errors.map((e) => e.params.missingProperty).sort(), ["email", "password"]);
    assert.deepEqual(fieldsOf({}).sort(), ["email", "password"]);
  });

  test("missing properties of a nested object are named with their path", () => {
    assert.deepEqual(fieldsOf({ ...valid, profile: {} }).sort(), ["profile.city", "profile.name"]);
  });

  test("a missing property and a wrong type are reported together", () => {
    assert.deepEqual(fieldsOf({ email: 5 }).sort(), ["email", "password"]);
  });
});

describe("compileBodyCheck: unions", () => {
  test("a nullable string accepts null and a short string", () => {
    assert.equal(check({ ...valid, username: null }).errors, undefined);
    assert.equal(check({ ...valid, username: "bob" }).errors, undefined);
  });

  test("a nullable string that is too long gives one error: the length, not also 'must be null'", () => {
    const errors = errorsOf({ ...valid, username: "x".repeat(5) });
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0]!.keyword, "maxLength");
    assert.equal(errors[0]!.instancePath, "/username");
  });

  test("a nullable string given a number gives one error for the field", () => {
    const errors = errorsOf({ ...valid, username: 5 });
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0]!.instancePath, "/username");
  });

  test("a choice of constants gives one error that names every choice", () => {
    const errors = errorsOf({ ...valid, scope: "everything" });
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0]!.instancePath, "/scope");
    assert.ok(errors[0]!.message.includes('"all"') && errors[0]!.message.includes('"session"'), errors[0]!.message);
    assert.equal(check({ ...valid, scope: "session" }).errors, undefined);
  });

  test("two failing unions and a plain error: one line per field", () => {
    assert.deepEqual(fieldsOf({ ...valid, email: 1, username: "x".repeat(5), scope: "x" }).sort(), ["email", "scope", "username"]);
  });

  // TypeBox stops after 8 errors (its default maxErrors). Here the raw errors are email (1),
  // username (maxLength, "must be null", anyOf) and scope (type + const per branch, then anyOf):
  // the scope union's own anyOf error is the 9th and is cut; the check rebuilds it from the
  // branches' schema path, so the four branch errors still collapse into one line.
  test("one line per field even when the validator's error list is long", () => {
    assert.deepEqual(fieldsOf({ ...valid, email: 1, username: "x".repeat(5), scope: 5 }).sort(), ["email", "scope", "username"]);
  });
});

describe("compileBodyCheck: well-formed text (docs/api.md section 3)", () => {
  test("a lone surrogate in any string field fails, naming the field, at any depth", () => {
    assert.deepEqual(fieldsOf({ ...valid, email: "a\ud800@example.com" }), ["email"]);
    assert.deepEqual(fieldsOf({ ...valid, password: "\udfff my long pass" }), ["password"]);
    assert.deepEqual(fieldsOf({ ...valid, username: "b\ud83d" }), ["username"]);
    assert.deepEqual(fieldsOf({ ...valid, profile: { name: "n", city: "\ud800" } }), ["profile.city"]);
  });

  test("every such field is named, with the schema's own errors beside them", () => {
    assert.deepEqual(fieldsOf({ email: "\ud800", password: "\udfff", age: "5" }).sort(), ["age", "email", "password"]);
    const problem = toProblem(validationError(errorsOf({ ...valid, password: "\ud800" })));
    assert.deepEqual(problem.body.errors, [{ field: "password", message: NOT_WELL_FORMED }]);
  });

  test("a key that is dropped is not checked; U+FFFD and astral characters are text", () => {
    assert.equal(check({ ...valid, unknown: "\ud800", ["k\ud800"]: 1 }).errors, undefined);
    assert.equal(check({ ...valid, password: "\ufffd 🦊 \u{10ffff}" }).errors, undefined);
  });
});
