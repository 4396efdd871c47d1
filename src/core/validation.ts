import { Type, type TObject } from "typebox";
import { Value } from "typebox/value";
import { normalizeEmailAddress } from "../lib/email-key.js";
import type { UserFields } from "./config.js";
import type { FieldError } from "./errors.js";
import { EMAIL_MAX_LENGTH, USERNAME_MAX_LENGTH } from "./limits.js";

/**
 * Text is Unicode done right (docs/api.md section 3). A string holding an unpaired UTF-16
 * surrogate is no text: written out as UTF-8 (argon2, PostgreSQL, a JSON response) each one
 * becomes U+FFFD, so `"\ud800..."`, `"\udfff..."` and `"\ufffd..."` would be one password. Every
 * string of every body is refused with this message: over HTTP by the body check
 * (http/body-validator.ts, both adapters), and in the domain's own checks for library calls.
 */
export const NOT_WELL_FORMED = "must be well-formed Unicode text (it holds an unpaired surrogate)";

/**
 * `String.prototype.isWellFormed` (ES2024, in Node 20): false when `text` holds an unpaired
 * surrogate. The compiler's `lib` is ES2022, hence the cast.
 */
export function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/**
 * The path (keys from the root) of every string in `value` that is not well-formed UTF-16, and of
 * every object holding a key that is not. Iterative: a deeply nested custom field cannot
 * overflow the stack.
 */
export function illFormedPaths(value: unknown): string[][] {
  return pathsOfStrings(value, (text) => !isWellFormed(text));
}

/** `illFormedPaths` for any test of the strings (and keys) of `value`. */
function pathsOfStrings(value: unknown, bad: (text: string) => boolean): string[][] {
  const found: string[][] = [];
  // Each entry links to its parent: the path is spelled out only for what is found.
  const pending: Step[] = [{ value, key: "", parent: undefined }];
  while (pending.length > 0) {
    const step = pending.pop()!;
    const current = step.value;
    if (typeof current === "string") {
      if (bad(current)) found.push(pathOf(step));
    } else if (Array.isArray(current)) {
      current.forEach((item, index) => pending.push({ value: item, key: String(index), parent: step }));
    } else if (current !== null && typeof current === "object") {
      let badKey = false;
      for (const [key, item] of Object.entries(current)) {
        if (bad(key)) badKey = true;
        else pending.push({ value: item, key, parent: step });
      }
      if (badKey) found.push(pathOf(step));
    }
  }
  return found.sort(byPath);
}

interface Step {
  value: unknown;
  key: string;
  parent: Step | undefined;
}

function pathOf(step: Step): string[] {
  const path: string[] = [];
  for (let s: Step | undefined = step; s?.parent !== undefined; s = s.parent) path.push(s.key);
  return path.reverse();
}

/** Document order is not kept by the walk: paths are sorted, so errors come out stable. */
function byPath(a: string[], b: string[]): number {
  const joined = (p: string[]) => p.join("\u0000");
  return joined(a) < joined(b) ? -1 : joined(a) > joined(b) ? 1 : 0;
}

/** `illFormedPaths` as field errors; the field is a dotted path under `field`. */
export function wellFormedErrors(value: unknown, field = ""): FieldError[] {
  return illFormedPaths(value).map((path) => ({ field: [field, ...path].filter((p) => p !== "").join("."), message: NOT_WELL_FORMED }));
}

// After normalising: one `@`, a local part without whitespace, an ASCII (LDH) domain with a dot.
const EMAIL = /^[^\s@]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+$/u;
const CONTROL = /\p{Cc}/u;
/**
 * Refused in an address: controls (PostgreSQL text refuses NUL; nobody's address has one), and
 * the invisible (Default_Ignorable: zero-width space, soft hyphen, ...) and direction-changing
 * (Bidi_Control: U+202E ...) characters that make one address look like another.
 */
const EMAIL_REFUSED = /[\p{Cc}\p{Default_Ignorable_Code_Point}\p{Bidi_Control}]/u;

/**
 * The lookup key of an email: NFKC, trimmed, lower-cased, the domain in ASCII by UTS #46
 * (lib/email-key.ts). How emails are stored and compared, at registration and login alike.
 */
export function normalizeEmail(email: string): string {
  return normalizeEmailAddress(email).key;
}

/** The normalised email of a registration, or the reason it is not one. */
export function checkNewEmail(email: unknown): { email: string; errors: FieldError[] } {
  if (typeof email !== "string") return { email: "", errors: [{ field: "email", message: "must be a valid email address" }] };
  if (!isWellFormed(email)) return { email: "", errors: [{ field: "email", message: NOT_WELL_FORMED }] };
  const { key, domainConverted } = normalizeEmailAddress(email);
  if (EMAIL_REFUSED.test(email.normalize("NFKC").trim()) || EMAIL_REFUSED.test(key)) {
    const message = "must not contain control, invisible or text-direction characters";
    return { email: key, errors: [{ field: "email", message }] };
  }
  const ok = domainConverted && key.length <= EMAIL_MAX_LENGTH && EMAIL.test(key);
  return { email: key, errors: ok ? [] : [{ field: "email", message: "must be a valid email address" }] };
}

/**
 * An email to look up (login): any well-formed string without control characters. Invisible and
 * direction characters are looked up rather than refused: an account registered with one before
 * they were refused can still sign in, and for any other address the lookup finds nothing.
 */
export function checkLookupEmail(email: string): FieldError[] {
  if (!isWellFormed(email)) return [{ field: "email", message: NOT_WELL_FORMED }];
  return CONTROL.test(normalizeEmail(email)) ? [{ field: "email", message: "must not contain control characters" }] : [];
}

const USERNAME_REFUSED = /[\p{Cc}\p{Bidi_Control}\p{Default_Ignorable_Code_Point}]/u;
const USERNAME_ALLOWED_INVISIBLE = /[\u200d\ufe0e\ufe0f]/gu;

/**
 * A display name (not a key: not unique, never looked up), stored as sent: at most 64 code
 * points, not blank, well-formed, and without controls, direction overrides (`\u202e`
 * reverses the text shown after it) or invisible characters, except the zero-width joiner and
 * the emoji variation selectors that emoji are written with (`❤️`, a family of ZWJ sequences).
 */
export function checkUsername(username: unknown): FieldError[] {
  if (username === null) return [];
  if (typeof username === "string" && !isWellFormed(username)) return [{ field: "username", message: NOT_WELL_FORMED }];
  // Without the joiners and selectors allowed in emoji: what is left must show something.
  const shown = typeof username === "string" ? username.replace(USERNAME_ALLOWED_INVISIBLE, "") : "";
  if (
    typeof username !== "string" ||
    shown.trim().length === 0 ||
    USERNAME_REFUSED.test(shown) ||
    [...username].length > USERNAME_MAX_LENGTH
  ) {
    return [
      {
        field: "username",
        message: `must be null or a non-empty string of at most ${USERNAME_MAX_LENGTH} characters, without control, invisible or text-direction characters`,
      },
    ];
  }
  return [];
}

/**
 * `must be a string` for the first named field of `input` that is not one; then every one that is
 * not well-formed text.
 */
export function requireStrings(input: unknown, fields: readonly string[]): FieldError[] {
  const record = (input ?? {}) as Record<string, unknown>;
  const missing = fields.find((name) => typeof record[name] !== "string");
  if (missing !== undefined) return [{ field: missing, message: "must be a string" }];
  return fields.flatMap((name) => wellFormedErrors(record[name], name));
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

export const HOLDS_NUL = "must not hold U+0000 (NUL)";

/**
 * An id, cursor part or filter the store can be asked about: a string of 1 to `maxLength`
 * characters without U+0000. PostgreSQL's text cannot hold a NUL, so a query naming one fails
 * (a 503 for a database that is up); no row's id holds one, so such a value names nothing.
 */
export function isStorableId(value: unknown, maxLength: number): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= maxLength && !value.includes("\u0000");
}

/**
 * The custom fields' check: a TypeBox check's failures as `{field, message}`, the field a dotted
 * path; then ill-formed strings; then strings and keys holding U+0000, which PostgreSQL's `jsonb`
 * cannot store (refused on SQLite too, so both dialects take the same profiles).
 */
export function schemaErrors(schema: TObject, value: unknown): FieldError[] {
  const errors = Value.Check(schema, value) ? [] : [...Value.Errors(schema, value)].map((e) => ({ field: fieldOf(e), message: e.message }));
  const nul = pathsOfStrings(value, (text) => text.includes("\u0000")).map((path) => ({ field: path.join("."), message: HOLDS_NUL }));
  return [...errors, ...wellFormedErrors(value), ...nul];
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
