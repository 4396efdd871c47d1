import type { OptionPath, ServerOption } from "./table.js";

// The shape of one row of the settings table (table.ts): kept apart so that the capability rows
// (rows/*.ts) and the table itself import one small definition.
/** What values a setting takes. The limits here are the only ones: validation and docs read them. */
export type SettingKind =
  | { readonly type: "string"; readonly minBytes?: number; readonly nonEmpty?: boolean }
  | {
      readonly type: "integer";
      readonly min: number;
      readonly max: number;
      /** What the error calls it; default "an integer". */
      readonly noun?: string;
      /** Another option this one must not be below. */
      readonly atLeast?: OptionPath;
    }
  | { readonly type: "boolean" }
  | {
      /** A lower-case SQL identifier (letters, digits, `_`; not starting with a digit), at most `maxLength` characters. */
      readonly type: "identifier";
      readonly maxLength: number;
      /** The empty string is allowed (it means none). */
      readonly empty?: boolean;
      /** A beginning the database reserves (PostgreSQL's `pg_` for schemas). */
      readonly refusedPrefix?: string;
    }
  | { readonly type: "enum"; readonly values: readonly string[] }
  | { readonly type: "url"; readonly pattern: RegExp; readonly forms: readonly string[] }
  | { readonly type: "trust-proxy"; readonly maxHops: number }
  | { readonly type: "function" }
  | {
      readonly type: "object";
      /** The error when the value is not an object; default "must be an object". */
      readonly expected?: string;
      /** Checks one entry; returns what is wrong with it (reported as `<option>.<key>`). */
      readonly entry?: (key: string, value: unknown) => string | undefined;
    };

/** One setting: where it is set, what it takes, its defaults and one line saying what it does. */
export interface Setting {
  /** The `createAuth()` option; absent for settings of the built-in server only. */
  readonly option?: OptionPath;
  /** The `configFromEnv()` field of a server-only setting. */
  readonly serverOption?: ServerOption;
  /** The environment variable of `tokenver serve`; absent for options only a library user can pass. */
  readonly env?: string;
  readonly kind: SettingKind;
  /** The library's default (for server-only settings, the server's); absent: unset. */
  readonly default?: unknown;
  /** The server's default, where it differs from the library's. */
  readonly serverDefault?: string | number | boolean;
  /** The default cell of docs/configuration.md's table, where the default is not a plain value. */
  readonly defaultText?: string;
  /** One line: what it does (the range is added from `kind`). */
  readonly doc: string;
}
