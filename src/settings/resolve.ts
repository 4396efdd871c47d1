import type { UserFields } from "../core/config.js";
import {
  SETTINGS,
  serverSetting,
  type AuthOptions,
  type ResolvedOptions,
  type Setting,
  type SettingKind,
  type TrustProxy,
} from "./table.js";

/** A bad option. `option` names it, so the CLI can name the environment variable instead. */
export class OptionError extends TypeError {
  readonly option: string;
  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super(`tokenver: ${option} ${message}`, options);
    this.option = option;
  }
}

/** What a value of the setting failed; its message completes "<setting> ...". */
export class Invalid extends Error {}

/** The value, checked against the setting's kind (and normalized: trust-proxy `true` is 1 hop). */
export function check(kind: SettingKind, value: unknown): unknown {
  switch (kind.type) {
    case "string":
      if (typeof value !== "string") throw new Invalid("must be a string");
      if (kind.minBytes !== undefined && Buffer.byteLength(value, "utf8") < kind.minBytes) {
        throw new Invalid(`must be at least ${kind.minBytes} bytes`);
      }
      if (kind.nonEmpty && value.length === 0) throw new Invalid("must not be empty");
      return value;
    case "url":
      if (typeof value !== "string") throw new Invalid("must be a string");
      if (!kind.pattern.test(value)) throw new Invalid(`must be ${orList(kind.forms)}`);
      return value;
    case "integer":
      if (typeof value !== "number" || !Number.isInteger(value) || value < kind.min || value > kind.max) {
        throw new Invalid(`must be ${kind.noun ?? "an integer"} from ${kind.min} to ${kind.max}`);
      }
      return value;
    case "boolean":
      if (typeof value !== "boolean") throw new Invalid("must be a boolean");
      return value;
    case "identifier":
      if (typeof value !== "string") throw new Invalid("must be a string");
      if (value === "" && kind.empty) return value;
      if (!/^[a-z_][a-z0-9_]*$/.test(value) || value.length > kind.maxLength)
        throw new Invalid(`must be an SQL identifier: ${identifierForm(kind)}`);
      if (kind.refusedPrefix !== undefined && value.startsWith(kind.refusedPrefix)) {
        throw new Invalid(`must not begin with ${kind.refusedPrefix} (the database reserves it)`);
      }
      return value;
    case "enum":
      if (typeof value !== "string" || !kind.values.includes(value)) throw new Invalid(`must be one of ${kind.values.join(", ")}`);
      return value;
    case "trust-proxy":
      if (value === false) return false;
      // Trusting every hop would let a client pick its own address with a forged header.
      if (value === true) return 1;
      if (typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= kind.maxHops) return value;
      if (typeof value === "string" && /^[0-9a-fA-F.:/, ]+$/.test(value) && value.trim().length > 0) return value;
      throw new Invalid(`must be a boolean, a hop count from 1 to ${kind.maxHops}, or proxy addresses/CIDRs`);
    case "function":
      if (typeof value !== "function") throw new Invalid("must be a function");
      return value;
    case "object":
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Invalid(kind.expected ?? "must be an object");
      return value;
  }
}

/** What an identifier setting takes, in words (the error and docs/configuration.md say it alike). */
export function identifierForm(kind: Extract<SettingKind, { type: "identifier" }>): string {
  const refused = kind.refusedPrefix === undefined ? "" : `, not beginning with ${kind.refusedPrefix}`;
  return `lower-case letters, digits and _, not starting with a digit${refused}, at most ${kind.maxLength} characters`;
}

export function orList(items: readonly string[]): string {
  return items.length < 2 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

/** Validates options at creation, so a mistake fails start-up with a clear message, never later. */
export function resolveOptions(options: AuthOptions<UserFields>): ResolvedOptions {
  if (options === null || typeof options !== "object") throw new OptionError("options", "must be an object");
  const given = options as Record<string, unknown>;
  refuseUnknownOptions(given);
  const resolved: Record<string, unknown> = {};
  for (const setting of SETTINGS as readonly Setting[]) {
    if (setting.option === undefined) continue;
    const [key, child] = setting.option.split(".") as [string, string | undefined];
    let value: unknown;
    let target = resolved;
    if (child === undefined) {
      value = given[key];
    } else {
      const group = given[key] ?? {};
      if (typeof group !== "object") throw new OptionError(key, "must be an object");
      value = (group as Record<string, unknown>)[child];
      target = (resolved[key] ??= {}) as Record<string, unknown>;
    }
    // An object option given as null is as good as unset (as it always was).
    if (value === undefined || (value === null && setting.kind.type === "object")) {
      target[child ?? key] = setting.default;
      continue;
    }
    target[child ?? key] = checked(setting.option, setting.kind, value);
  }
  for (const setting of SETTINGS as readonly Setting[]) {
    if (setting.option === undefined || setting.kind.type !== "integer" || setting.kind.atLeast === undefined) continue;
    if (valueAt(resolved, setting.option) < valueAt(resolved, setting.kind.atLeast)) {
      throw new OptionError(setting.option, `must not be shorter than ${setting.kind.atLeast}`);
    }
  }
  return resolved as unknown as ResolvedOptions;
}

/**
 * A typo (`databseUrl`, `rateLimit.acountFailures`) would otherwise be silently ignored and its
 * default used: every option is a row of the settings table, so anything else is refused by name.
 */
function refuseUnknownOptions(given: Record<string, unknown>): void {
  const known: string[] = (SETTINGS as readonly Setting[]).flatMap((setting) => (setting.option === undefined ? [] : [setting.option]));
  const groups = new Set(known.filter((o) => o.includes(".")).map((o) => o.split(".")[0]!));
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    if (!known.includes(key) && !groups.has(key)) {
      throw new OptionError(
        key,
        `is not an option of createAuth()${suggestion(key, known.filter((o) => !o.includes(".")).concat([...groups]))}`,
      );
    }
    if (groups.has(key) && typeof value === "object" && value !== null) {
      const children = known.filter((o) => o.startsWith(`${key}.`)).map((o) => o.slice(key.length + 1));
      for (const [child, childValue] of Object.entries(value)) {
        if (childValue !== undefined && !children.includes(child)) {
          throw new OptionError(`${key}.${child}`, `is not an option of createAuth()${suggestion(child, children)}`);
        }
      }
    }
  }
}

/** `; did you mean X?` when one known name is close (same letters, case-insensitively, or one edit away). */
function suggestion(name: string, known: readonly string[]): string {
  const close = known.find((k) => k.toLowerCase() === name.toLowerCase() || editDistance(k.toLowerCase(), name.toLowerCase()) <= 2);
  return close === undefined ? "" : `; did you mean ${close}?`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

function checked(option: string, kind: SettingKind, value: unknown): unknown {
  try {
    const result = check(kind, value);
    if (kind.type === "object" && kind.entry !== undefined) {
      for (const [key, entry] of Object.entries(result as object)) {
        const problem = kind.entry(key, entry);
        if (problem !== undefined) throw new OptionError(`${option}.${key}`, problem);
      }
    }
    return result;
  } catch (error) {
    if (error instanceof Invalid) throw new OptionError(option, error.message);
    throw error;
  }
}

function valueAt(resolved: Record<string, unknown>, path: string): number {
  return path.split(".").reduce<any>((o, key) => o?.[key], resolved) as number;
}

/**
 * The built-in server's `trustProxy`, checked as `TOKENVER_TRUST_PROXY` is (`true` trusts one hop);
 * throws an `OptionError` naming `trustProxy`.
 */
export function resolveTrustProxy(value: boolean | number | string | undefined): TrustProxy {
  const setting = serverSetting("trustProxy");
  if (value === undefined) return setting.default as TrustProxy;
  return checked("trustProxy", setting.kind, value) as TrustProxy;
}
