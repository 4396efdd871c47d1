import type { AuthOptions } from "./settings.js";

/** A bad setting in the environment. The message names the variable and never echoes its value. */
export class ConfigError extends Error {
  readonly setting: string;
  constructor(setting: string, message: string) {
    super(`${setting}: ${message}`);
    this.setting = setting;
  }
}

export interface ServerConfig {
  port: number;
  host: string;
  logLevel: string;
  auth: AuthOptions;
}

/** Which environment variable sets which `createAuth()` option, for error messages. */
export const ENV_OF_OPTION: Record<string, string> = {
  databaseUrl: "TOKENVER_DATABASE_URL",
  redisUrl: "TOKENVER_REDIS_URL",
  redisPrefix: "TOKENVER_REDIS_PREFIX",
  redisEntryTtl: "TOKENVER_REDIS_ENTRY_TTL",
  redisNodeLease: "TOKENVER_REDIS_NODE_LEASE",
  localCache: "TOKENVER_LOCAL_CACHE",
  secret: "TOKENVER_SECRET",
  accessTtl: "TOKENVER_ACCESS_TTL",
  refreshTtl: "TOKENVER_REFRESH_TTL",
  issuer: "TOKENVER_ISSUER",
  clockTolerance: "TOKENVER_CLOCK_TOLERANCE",
  trustProxy: "TOKENVER_TRUST_PROXY",
  pruneInterval: "TOKENVER_PRUNE_INTERVAL",
  "rateLimit.accountFailures": "TOKENVER_RATE_LIMIT_ACCOUNT",
  "rateLimit.addressFailures": "TOKENVER_RATE_LIMIT_ADDRESS",
  "rateLimit.windowSeconds": "TOKENVER_RATE_LIMIT_WINDOW",
};

const LOG_LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

/** Reads API.md section 1 from the environment. Types are checked here, ranges by createAuth(). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const get = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === "" ? undefined : value;
  };
  const port = int(get("PORT"), "PORT") ?? 3000;
  if (port < 0 || port > 65535) throw new ConfigError("PORT", "must be a port number from 0 to 65535");
  const logLevel = get("TOKENVER_LOG_LEVEL") ?? "info";
  if (!LOG_LEVELS.has(logLevel)) throw new ConfigError("TOKENVER_LOG_LEVEL", `must be one of ${[...LOG_LEVELS].join(", ")}`);
  const auth: AuthOptions = {};
  const set = <K extends keyof AuthOptions>(key: K, value: AuthOptions[K] | undefined) => {
    if (value !== undefined) auth[key] = value;
  };
  set("databaseUrl", get("TOKENVER_DATABASE_URL"));
  set("redisUrl", get("TOKENVER_REDIS_URL"));
  set("redisPrefix", get("TOKENVER_REDIS_PREFIX"));
  set("redisEntryTtl", int(get("TOKENVER_REDIS_ENTRY_TTL"), "TOKENVER_REDIS_ENTRY_TTL"));
  set("redisNodeLease", int(get("TOKENVER_REDIS_NODE_LEASE"), "TOKENVER_REDIS_NODE_LEASE"));
  set("localCache", bool(get("TOKENVER_LOCAL_CACHE"), "TOKENVER_LOCAL_CACHE"));
  set("secret", get("TOKENVER_SECRET"));
  set("accessTtl", int(get("TOKENVER_ACCESS_TTL"), "TOKENVER_ACCESS_TTL"));
  set("refreshTtl", int(get("TOKENVER_REFRESH_TTL"), "TOKENVER_REFRESH_TTL"));
  set("issuer", get("TOKENVER_ISSUER"));
  set("clockTolerance", int(get("TOKENVER_CLOCK_TOLERANCE"), "TOKENVER_CLOCK_TOLERANCE"));
  set("trustProxy", trustProxySetting(get("TOKENVER_TRUST_PROXY")));
  // The server prunes hourly by default; the library leaves it to the application.
  set("pruneInterval", int(get("TOKENVER_PRUNE_INTERVAL"), "TOKENVER_PRUNE_INTERVAL") ?? 3600);
  const rateLimit = {
    accountFailures: int(get("TOKENVER_RATE_LIMIT_ACCOUNT"), "TOKENVER_RATE_LIMIT_ACCOUNT"),
    addressFailures: int(get("TOKENVER_RATE_LIMIT_ADDRESS"), "TOKENVER_RATE_LIMIT_ADDRESS"),
    windowSeconds: int(get("TOKENVER_RATE_LIMIT_WINDOW"), "TOKENVER_RATE_LIMIT_WINDOW"),
  };
  const definedRate = Object.fromEntries(Object.entries(rateLimit).filter(([, v]) => v !== undefined));
  if (Object.keys(definedRate).length > 0) auth.rateLimit = definedRate;
  return { port, host: get("HOST") ?? "127.0.0.1", logLevel, auth };
}

function int(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim())) throw new ConfigError(name, "must be a whole number");
  return Number(value.trim());
}

/** true/false, a hop count, or comma-separated proxy addresses/CIDRs (createAuth() checks them). */
function trustProxySetting(value: string | undefined): boolean | number | string | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  if (/^[0-9a-fA-F.:/, ]+$/.test(value) && /[.:]/.test(value)) return value.trim();
  return bool(value, "TOKENVER_TRUST_PROXY", "must be true, false, a hop count or proxy addresses");
}

function bool(value: string | undefined, name: string, expected = "must be true or false"): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new ConfigError(name, expected);
}
