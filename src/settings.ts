import { systemClock, type Clock } from "./core/clock.js";
import type { CoreConfig, RateLimitOptions, UserFields } from "./core/config.js";

export type { RateLimitOptions, UserFields };

/** Options of `createAuth()`: the environment variables of API.md section 1, as typed fields. */
export interface AuthOptions<F extends UserFields = {}> {
  /** `sqlite:<path>`, `sqlite::memory:` or `postgres://...`. Default `sqlite:./data/tokenver.db`. */
  databaseUrl?: string;
  /** `redis://...`: shared revocation state and rate-limit counters for several nodes. */
  redisUrl?: string;
  /**
   * Seconds a Redis entry lives (default 60). Also how long a node reads the database instead of
   * Redis after a Redis outage, so entries that may have missed a revocation expire first.
   */
  redisEntryTtl?: number;
  /** Key prefix in Redis, so several deployments (or test runs) can share one server. Default `tokenver:`. */
  redisPrefix?: string;
  /**
   * Seconds a node's registration for cross-node invalidation lasts without renewal (default 5, 1
   * to 60). A node that stops answering (killed, partitioned) holds up revocations at most this
   * long; a node that loses Redis stops answering from its cache before it runs out.
   */
  redisNodeLease?: number;
  /**
   * HS256 secret, at least 32 bytes. When omitted, one is generated once, stored in the database
   * and reused by every later start and every node (`onWarning` is told).
   */
  secret?: string;
  /** Access-token lifetime, seconds. Default 900. */
  accessTtl?: number;
  /** Refresh-token (and idle session) lifetime, seconds. Default 1209600 (14 days). */
  refreshTtl?: number;
  /** `iss` of issued tokens; tokens with another `iss` are refused. Default `tokenver`. */
  issuer?: string;
  /** Leeway on `exp` and `nbf`, seconds. Default 5, at most 300. */
  clockTolerance?: number;
  /**
   * Trust `X-Forwarded-For` for client addresses in the built-in server (`buildServer()`; the
   * Fastify and Express adapters follow your app's own trust-proxy setting). Default false. `true` trusts
   * one proxy hop (the address your proxy appended, which a client cannot forge); a number trusts
   * that many hops; a string lists the proxies' addresses or CIDRs, comma-separated.
   */
  trustProxy?: boolean | number | string;
  /** Throttling of failed logins and failed password confirmations. */
  rateLimit?: Partial<RateLimitOptions>;
  /**
   * An in-process cache of revocation state. On by default for SQLite (this process is the only
   * writer) and with Redis (every revocation has each caching node forget what it changes before it
   * commits: docs/scale-out.md). Off by default for PostgreSQL without Redis, where it would be
   * exact only if this process were the only one.
   */
  localCache?: boolean;
  /** Extra profile fields the application stores on each user, as TypeBox schemas. */
  userFields?: F;
  /**
   * Delete expired sessions and refresh tokens every this many seconds (0: never; run
   * `auth.prune()` or `tokenver prune` yourself). Default 0; the server sets 3600.
   */
  pruneInterval?: number;
  /**
   * SQLite files only. Default true: lock the file to this process, so a second tokenver process
   * fails at start-up instead of missing this one's revocations (each keeps an in-process copy).
   * Turn it off only for work that revokes nothing alongside a running server (`tokenver migrate`,
   * `tokenver prune`).
   */
  sqliteLock?: boolean;
  /** Apply pending migrations on start-up. Default true. */
  migrate?: boolean;
  /** Where warnings go (a generated secret, a fallback to the database). Default: none. */
  onWarning?: (message: string) => void;
  /** Milliseconds since the epoch; injectable for tests. */
  clock?: Clock;
}

export interface ResolvedOptions extends CoreConfig {
  databaseUrl: string;
  redisUrl: string | undefined;
  redisPrefix: string;
  redisEntryTtl: number;
  redisNodeLease: number;
  secret: string | undefined;
  accessTtl: number;
  refreshTtl: number;
  issuer: string;
  clockTolerance: number;
  /** false, or what Fastify's `trustProxy` takes: a hop count or proxy addresses. */
  trustProxy: false | number | string;
  rateLimit: RateLimitOptions;
  localCache: boolean | undefined;
  userFields: UserFields;
  pruneInterval: number;
  sqliteLock: boolean;
  migrate: boolean;
  onWarning: (message: string) => void;
  clock: Clock;
}

/** A bad option. `option` names it, so the CLI can name the environment variable instead. */
export class OptionError extends TypeError {
  readonly option: string;
  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super(`tokenver: ${option} ${message}`, options);
    this.option = option;
  }
}

export const DEFAULT_DATABASE_URL = "sqlite:./data/tokenver.db";
const RESERVED_FIELDS = new Set(["id", "email", "username", "token_version", "created_at", "updated_at", "password", "password_hash"]);

/** Validates options at creation, so a mistake fails start-up with a clear message, never later. */
export function resolveOptions(options: AuthOptions<UserFields>): ResolvedOptions {
  if (options === null || typeof options !== "object") throw new OptionError("options", "must be an object");
  const databaseUrl = optionalString(options, "databaseUrl") ?? DEFAULT_DATABASE_URL;
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(databaseUrl)) {
    throw new OptionError("databaseUrl", "must be sqlite:<path>, sqlite::memory: or postgres://...");
  }
  const redisUrl = optionalString(options, "redisUrl");
  if (redisUrl !== undefined && !/^rediss?:\/\/.+/.test(redisUrl)) throw new OptionError("redisUrl", "must be redis://... or rediss://...");
  const secret = optionalString(options, "secret");
  if (secret !== undefined && Buffer.byteLength(secret, "utf8") < 32) throw new OptionError("secret", "must be at least 32 bytes");
  const issuer = optionalString(options, "issuer") ?? "tokenver";
  if (issuer.length === 0) throw new OptionError("issuer", "must not be empty");
  const accessTtl = integer(options, "accessTtl", 900, 1, 86_400);
  const refreshTtl = integer(options, "refreshTtl", 1_209_600, 60, 31_536_000);
  if (refreshTtl < accessTtl) throw new OptionError("refreshTtl", "must not be shorter than accessTtl");
  const rate = options.rateLimit ?? {};
  if (typeof rate !== "object") throw new OptionError("rateLimit", "must be an object");
  const userFields = options.userFields ?? {};
  if (typeof userFields !== "object" || userFields === null || Array.isArray(userFields)) {
    throw new OptionError("userFields", "must be an object of TypeBox schemas");
  }
  for (const [name, schema] of Object.entries(userFields)) {
    if (RESERVED_FIELDS.has(name)) throw new OptionError(`userFields.${name}`, "is a reserved user field");
    if (schema === null || typeof schema !== "object") throw new OptionError(`userFields.${name}`, "must be a TypeBox schema");
  }
  if (options.onWarning !== undefined && typeof options.onWarning !== "function") throw new OptionError("onWarning", "must be a function");
  if (options.clock !== undefined && typeof options.clock !== "function") throw new OptionError("clock", "must be a function");
  return {
    databaseUrl,
    redisUrl,
    redisPrefix: optionalString(options, "redisPrefix") ?? "tokenver:",
    redisEntryTtl: integer(options, "redisEntryTtl", 60, 1, 86_400),
    redisNodeLease: integer(options, "redisNodeLease", 5, 1, 60),
    secret,
    accessTtl,
    refreshTtl,
    issuer,
    clockTolerance: integer(options, "clockTolerance", 5, 0, 300),
    trustProxy: trustProxy(options.trustProxy),
    rateLimit: {
      accountFailures: integer(rate, "accountFailures", 10, 1, 1_000_000, "rateLimit."),
      addressFailures: integer(rate, "addressFailures", 100, 1, 1_000_000, "rateLimit."),
      windowSeconds: integer(rate, "windowSeconds", 900, 1, 86_400, "rateLimit."),
    },
    localCache: options.localCache === undefined ? undefined : boolean(options, "localCache", false),
    userFields,
    pruneInterval: integer(options, "pruneInterval", 0, 0, 604_800),
    sqliteLock: boolean(options, "sqliteLock", true),
    migrate: boolean(options, "migrate", true),
    onWarning: options.onWarning ?? (() => {}),
    clock: options.clock ?? systemClock,
  };
}

function trustProxy(value: unknown): false | number | string {
  if (value === undefined || value === false) return false;
  // Trusting every hop would let a client pick its own address with a forged header.
  if (value === true) return 1;
  if (typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 16) return value;
  if (typeof value === "string" && /^[0-9a-fA-F.:/, ]+$/.test(value) && value.trim().length > 0) return value;
  throw new OptionError("trustProxy", "must be a boolean, a hop count from 1 to 16, or proxy addresses/CIDRs");
}

function optionalString(o: object, key: string): string | undefined {
  const value = (o as Record<string, unknown>)[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new OptionError(key, "must be a string");
  return value;
}

function integer(o: object, key: string, fallback: number, min: number, max: number, prefix = ""): number {
  const value = (o as Record<string, unknown>)[key];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new OptionError(prefix + key, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function boolean(o: object, key: string, fallback: boolean): boolean {
  const value = (o as Record<string, unknown>)[key];
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new OptionError(key, "must be a boolean");
  return value;
}
