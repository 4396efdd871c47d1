import { Type, type TObject } from "typebox";
import { Value } from "typebox/value";
import type { UserFields } from "./config.js";
import type { FieldError } from "./errors.js";
import { EMAIL_MAX_LENGTH, USERNAME_MAX_LENGTH } from "./limits.js";

// No whitespace or control characters (PostgreSQL text refuses NUL; nobody's address has one).
const EMAIL = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u;
const CONTROL = /\p{Cc}/u;

/** Trimmed and lower-cased: how emails are stored and compared. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** The normalised email of a registration, or the reason it is not one. */
export function checkNewEmail(email: unknown): { email: string; errors: FieldError[] } {
  const normalized = typeof email === "string" ? normalizeEmail(email) : "";
  const ok = normalized.length <= EMAIL_MAX_LENGTH && EMAIL.test(normalized);
  return { email: normalized, errors: ok ? [] : [{ field: "email", message: "must be a valid email address" }] };
}

/** An email to look up (login): any string without control characters. */
export function checkLookupEmail(email: string): FieldError[] {
  return CONTROL.test(normalizeEmail(email)) ? [{ field: "email", message: "must not contain control characters" }] : [];
}

export function checkUsername(username: unknown): FieldError[] {
  if (username === null) return [];
  if (
    typeof username !== "string" ||
    username.trim().length === 0 ||
    CONTROL.test(username) ||
    [...username].length > USERNAME_MAX_LENGTH
  ) {
    return [
      {
        field: "username",
        message: `must be null or a non-empty string of at most ${USERNAME_MAX_LENGTH} characters, without control characters`,
      },
    ];
  }
  return [];
}

/** `must be a string` for each named field of `input` that is not one. */
export function requireStrings(input: unknown, fields: readonly string[]): FieldError[] {
  const record = (input ?? {}) as Record<string, unknown>;
  const missing = fields.find((name) => typeof record[name] !== "string");
  return missing === undefined ? [] : [{ field: missing, message: "must be a string" }];
}

/** The custom user fields' schemas: the whole profile (registration) and a patch of it. */
export function profileSchemas(fields: UserFields): { profile: TObject; patch: TObject } {
  const profile = Type.Object(fields, { additionalProperties: false });
  return { profile, patch: Type.Partial(profile) as TObject };
}

/** The configured custom fields present in `input`; every other key is left behind. */
export function pickFields(input: Record<string, unknown>, fields: UserFields): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const name of Object.keys(fields)) if (Object.hasOwn(input, name) && input[name] !== undefined) picked[name] = input[name];
  return picked;
}

/** A TypeBox check's failures as `{field, message}`, the field a dotted path. */
export function schemaErrors(schema: TObject, value: unknown): FieldError[] {
  if (Value.Check(schema, value)) return [];
  return [...Value.Errors(schema, value)].map((e) => ({ field: fieldOf(e), message: e.message }));
}

/**
 * The field a schema error is about, as a dotted path: the instance path, plus the missing
 * property when one is named (Ajv's `missingProperty`, TypeBox's `requiredProperties`).
 */
export function fieldOf(error: { instancePath?: string; params?: unknown }): string {
  const path = (error.instancePath ?? "").replace(/^\//, "").replaceAll("/", ".");
  const params = (error.params ?? {}) as { requiredProperties?: unknown; missingProperty?: unknown };
  const missing =
    typeof params.missingProperty === "string"
      ? params.missingProperty
      : Array.isArray(params.requiredProperties)
        ? params.requiredProperties[0]
        : undefined;
  if (typeof missing === "string") return path ? `${path}.${missing}` : missing;
  return path;
}
