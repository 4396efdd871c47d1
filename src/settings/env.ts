import { SETTINGS, type AuthOptions, type Setting, type SettingKind, type TrustProxy } from "./table.js";
import { check, Invalid } from "./resolve.js";

/** A bad setting in the environment. The message names the variable and never echoes its value. */
export class ConfigError extends Error {
  readonly setting: string;
  constructor(setting: string, message: string) {
    super(`${setting}: ${message}`);
    this.setting = setting;
  }
}

/** What `tokenver serve` reads from the environment: its own settings, and `createAuth()`'s options. */
export interface ServerConfig {
  port: number;
  host: string;
  logLevel: string;
  trustProxy: TrustProxy;
  requestTimeout: number;
  keepAliveTimeout: number;
  maxConnections: number;
  /** Unset: no metrics endpoint. */
  metricsPort: number | undefined;
  metricsHost: string;
  shutdownTimeout: number;
  auth: AuthOptions;
}

/**
 * Reads the settings of `tokenver serve` (docs/api.md section 1) from the environment. The
 * server's own settings are checked here in full; the options of `createAuth()` only for their
 * type (it checks their ranges, and the CLI names the variable with `envOfOption()`).
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const server: Record<string, unknown> = {};
  const auth: Record<string, unknown> = {};
  for (const setting of SETTINGS as readonly Setting[]) {
    if (setting.env === undefined) continue;
    const raw = env[setting.env];
    const value = raw === undefined || raw === "" ? undefined : fromEnv(setting.env, setting.kind, raw);
    if (setting.serverOption !== undefined) {
      try {
        server[setting.serverOption] = value === undefined ? setting.default : check(setting.kind, value);
      } catch (error) {
        if (error instanceof Invalid) throw new ConfigError(setting.env, error.message);
        throw error;
      }
    } else if (setting.option !== undefined) {
      const given = value ?? setting.serverDefault;
      if (given === undefined) continue;
      const [key, child] = setting.option.split(".") as [string, string | undefined];
      if (child === undefined) auth[key] = given;
      else ((auth[key] ??= {}) as Record<string, unknown>)[child] = given;
    }
  }
  return { ...(server as Omit<ServerConfig, "auth">), auth: auth as AuthOptions };
}

/** A variable's text as the setting's type; ranges are checked later, by `check()`. */
function fromEnv(name: string, kind: SettingKind, raw: string): unknown {
  switch (kind.type) {
    case "integer":
      return wholeNumber(name, raw);
    case "boolean":
      return booleanWord(name, raw, "must be true or false");
    case "trust-proxy":
      // true/false, a hop count, or comma-separated proxy addresses/CIDRs.
      if (/^\d+$/.test(raw.trim())) return Number(raw.trim());
      if (/^[0-9a-fA-F.:/, ]+$/.test(raw) && /[.:]/.test(raw)) return raw.trim();
      return booleanWord(name, raw, "must be true, false, a hop count or proxy addresses");
    default:
      return raw;
  }
}

function wholeNumber(name: string, raw: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, "must be a whole number");
  return Number(raw.trim());
}

function booleanWord(name: string, raw: string, expected: string): boolean {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new ConfigError(name, expected);
}
