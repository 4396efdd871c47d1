import type { TSchema } from "typebox";
import { Compile } from "typebox/compile";
import { Value } from "typebox/value";
import { AuthError, type FieldError } from "../core/errors.js";
import { illFormedPaths, NOT_WELL_FORMED } from "../core/validation.js";
import { fieldOf } from "./problem.js";

/** One validation failure, in the shape Fastify (and `fromFrameworkError`) expect from Ajv. */
export interface SchemaError {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  message: string;
}

export type BodyCheck = (value: unknown) => { value: unknown; errors?: undefined } | { value?: undefined; errors: SchemaError[] };

/**
 * Compiles a request schema with the semantics the tokenver server configures on its Ajv:
 * never coerce (`{"email": 123}` is a type error, not "123") and drop unknown keys before the
 * handler sees the body. Used for the endpoints mounted into an application, whose own Ajv
 * (Fastify's default coerces types) must not decide what the auth endpoints accept, and by the
 * Express adapter, so both adapters accept exactly the same bodies. Strings that are not
 * well-formed UTF-16 (lone surrogates) fail in every field (docs/api.md section 3).
 */
export function compileBodyCheck(schema: TSchema): BodyCheck {
  const validator = Compile(schema);
  return (value) => {
    // Clean mutates: the parsed body belongs to this request only.
    const cleaned = Value.Clean(schema, value);
    const illFormed = illFormedPaths(cleaned).map(notWellFormed);
    if (validator.Check(cleaned)) return illFormed.length === 0 ? { value: cleaned } : { errors: illFormed };
    return { errors: [...oneErrorPerUnion(validator.Errors(cleaned).flatMap(toAjvShape)), ...illFormed] };
  };
}

/**
 * Every string the handler would get (unknown keys are dropped first) must be well-formed text:
 * one rule for every field of every endpoint, the domain's (core/validation.ts).
 */
function notWellFormed(path: string[]): SchemaError {
  return {
    keyword: "wellFormed",
    instancePath: path.map((key) => `/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`).join(""),
    schemaPath: "#",
    params: {},
    message: NOT_WELL_FORMED,
  };
}

/** A Fastify `validatorCompiler` with the semantics above (no coercion for any part). */
export function strictValidatorCompiler({ schema }: { schema: unknown }) {
  const check = compileBodyCheck(schema as TSchema);
  return (data: unknown) => {
    const result = check(data);
    return result.errors === undefined ? { value: result.value } : { error: result.errors };
  };
}

/** The `validation_failed` error a failed check becomes (same fields as the server's). */
export function validationError(errors: SchemaError[]): AuthError {
  return new AuthError("validation_failed", "The request is invalid.", { errors: errors.map(toFieldError) });
}

function toFieldError(error: SchemaError): FieldError {
  return { field: fieldOf(error), message: error.message };
}

/**
 * TypeBox reports all missing keys in one `requiredProperties` error; Ajv (with allErrors, as the
 * server runs it) reports one `missingProperty` error per key. Same shape for both adapters.
 */
function toAjvShape(error: { keyword: string; instancePath: string; schemaPath: string; params: object; message: string }): SchemaError[] {
  const params = error.params as Record<string, unknown>;
  const base = { keyword: error.keyword, instancePath: error.instancePath, schemaPath: error.schemaPath };
  const required = params.requiredProperties;
  if (Array.isArray(required) && required.length > 0) {
    return required.map((name) => ({
      ...base,
      params: { missingProperty: String(name) },
      message: `must have required property '${String(name)}'`,
    }));
  }
  return [{ ...base, params: { ...params }, message: error.message }];
}

/**
 * A value that fails a union fails each branch, and the validator says so for each, then for the
 * union: `"x".repeat(65)` as a nullable username gave "must not have more than 64 characters",
 * "must be null" and "must match a schema in anyOf". One line per field instead: a choice of
 * types or constants becomes "must be "all" or "session"" / "must be string or null"; otherwise
 * the errors of the branches that are not `null` stand alone.
 */
function oneErrorPerUnion(errors: SchemaError[]): SchemaError[] {
  const unions = withUnionErrors(errors);
  if (unions.length === 0) return errors;
  let result = [...errors, ...unions.filter((u) => !errors.includes(u))];
  for (const union of unions) {
    const prefix = `${union.schemaPath}/anyOf/`;
    const branches = new Map<string, SchemaError[]>();
    for (const e of result) {
      if (!e.schemaPath.startsWith(prefix)) continue;
      const branch = e.schemaPath.slice(prefix.length).split("/")[0]!;
      branches.set(branch, [...(branches.get(branch) ?? []), e]);
    }
    const inUnion = (e: SchemaError) => e === union || e.schemaPath.startsWith(prefix);
    const choices = [...branches.values()];
    if (choices.length > 0 && choices.every((branch) => branch.every((e) => e.keyword === "const" || e.keyword === "type"))) {
      const alternatives = choices.map((branch) => {
        const constant = branch.find((e) => e.keyword === "const");
        return constant !== undefined ? JSON.stringify(constant.params.allowedValue) : String(branch[0]!.params.type);
      });
      const message = `must be ${alternatives.slice(0, -1).join(", ")}${alternatives.length > 1 ? " or " : ""}${alternatives.at(-1)}`;
      const merged: SchemaError = { ...union, message };
      result = result.flatMap((e) => (e === union ? [merged] : inUnion(e) ? [] : [e]));
    } else {
      const isNullBranch = (e: SchemaError) => e.keyword === "type" && e.params.type === "null";
      const reasons = result.filter((e) => inUnion(e) && e !== union && !isNullBranch(e));
      // No reason left to give (never seen): the union's own line, rather than none.
      result = result.filter((e) => !inUnion(e) || (reasons.length > 0 ? reasons.includes(e) : e === union));
    }
  }
  return result;
}

/**
 * The union errors, including those the validator cut: TypeBox keeps at most 8 errors (its
 * process-wide `maxErrors`), and a union's own error comes after its branches', so a long list
 * can hold the branches of a union without the union. Rebuilt from the branches' schema path.
 */
function withUnionErrors(errors: SchemaError[]): SchemaError[] {
  const unions = errors.filter((e) => e.keyword === "anyOf");
  for (const e of errors) {
    for (const match of e.schemaPath.matchAll(/\/anyOf\/\d+/g)) {
      const schemaPath = e.schemaPath.slice(0, match.index);
      if (unions.some((u) => u.schemaPath === schemaPath)) continue;
      unions.push({ keyword: "anyOf", instancePath: e.instancePath, schemaPath, params: {}, message: "must match a schema in anyOf" });
    }
  }
  return unions;
}
