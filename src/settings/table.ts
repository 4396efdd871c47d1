import { systemClock, type Clock } from "../core/clock.js";
import type { CoreConfig, RateLimitOptions, UserFields } from "../core/config.js";
import { MAIL_SETTINGS, type MailOptions, type ResolvedMailOptions } from "./rows/mail.js";
import { OPERATIONS_SETTINGS } from "./rows/operations.js";
import { BROWSER_SETTINGS, type BrowserOptions, type ResolvedBrowserOptions } from "./rows/browser.js";
import { EVENTS_SETTINGS, WEBHOOK_SETTINGS } from "./rows/events.js";
import { RECOVERY_SETTINGS, type RecoveryOptions, type ResolvedRecoveryOptions } from "./rows/recovery.js";
import { KEYS_SETTINGS, type KeysOptions, type ResolvedKeysOptions } from "./rows/keys.js";
import { DATABASE_SETTINGS, type DatabaseOptions, type ResolvedDatabaseOptions } from "./rows/database.js";

export type { RateLimitOptions, UserFields };
export type { Setting, SettingKind } from "./setting.js";
import type { Setting } from "./setting.js";

/**
 * Options of `createAuth()`. What each one means, its range and its default is its row in
 * `SETTINGS` below, the one description of every setting: `configurationTable()` renders it as the
 * configuration table of docs/configuration.md (docs/api.md section 1 names the server's variables).
 */
export interface AuthOptions<F extends UserFields = {}> extends MailOptions, BrowserOptions, RecoveryOptions, KeysOptions, DatabaseOptions {
  databaseUrl?: string;
  redisUrl?: string;
  redisEntryTtl?: number;
  redisPrefix?: string;
  redisNodeLease?: number;
  secret?: string;
  accessTtl?: number;
  refreshTtl?: number;
  issuer?: string;
  clockTolerance?: number;
  rateLimit?: Partial<RateLimitOptions>;
  localCache?: boolean;
  userFields?: F;
  pruneInterval?: number;
  eventRetention?: number;
  webhookUrls?: string;
  webhookSecret?: string;
  hashQueue?: number;
  sqliteLock?: boolean;
  migrate?: boolean;
  onWarning?: (message: string) => void;
  clock?: Clock;
  metrics?: boolean;
}

export interface ResolvedOptions
  extends
    Omit<CoreConfig, "allowedOrigins">,
    ResolvedMailOptions,
    ResolvedBrowserOptions,
    ResolvedRecoveryOptions,
    ResolvedKeysOptions,
    ResolvedDatabaseOptions {
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
  rateLimit: RateLimitOptions;
  localCache: boolean | undefined;
  userFields: UserFields;
  pruneInterval: number;
  webhookUrls: string | undefined;
  webhookSecret: string | undefined;
  hashQueue: number;
  sqliteLock: boolean;
  migrate: boolean;
  onWarning: (message: string) => void;
  clock: Clock;
  metrics: boolean;
}

/** The built-in server's proxy trust: false, a hop count, or proxy addresses/CIDRs (comma-separated). */
export type TrustProxy = false | number | string;

/** A `createAuth()` option: a key of `AuthOptions`, or `rateLimit.<key>` for the throttling ones. */
export type OptionPath = Exclude<keyof AuthOptions, "rateLimit"> | `rateLimit.${keyof RateLimitOptions}`;

/** A setting of the built-in server only (`configFromEnv()` returns it beside `auth`). */
export type ServerOption =
  | "port"
  | "host"
  | "logLevel"
  | "trustProxy"
  | "requestTimeout"
  | "keepAliveTimeout"
  | "maxConnections"
  | "metricsPort"
  | "metricsHost"
  | "shutdownTimeout";

const RESERVED_FIELDS = new Set([
  "id",
  "email",
  "username",
  "token_version",
  "created_at",
  "updated_at",
  "password",
  "password_hash",
  "email_verified",
]);

function userFieldEntry(name: string, schema: unknown): string | undefined {
  if (RESERVED_FIELDS.has(name)) return "is a reserved user field";
  if (schema === null || typeof schema !== "object") return "must be a TypeBox schema";
  return undefined;
}

export const DEFAULT_DATABASE_URL = "sqlite:./data/tokenver.db";

/** Every setting, in the order of docs/configuration.md's table. */
export const SETTINGS = [
  {
    serverOption: "port",
    env: "PORT",
    kind: { type: "integer", min: 0, max: 65535, noun: "a port number" },
    default: 3000,
    doc: "port to listen on",
  },
  { serverOption: "host", env: "HOST", kind: { type: "string" }, default: "127.0.0.1", doc: "address to listen on" },
  {
    option: "databaseUrl",
    env: "TOKENVER_DATABASE_URL",
    kind: { type: "url", pattern: /^(sqlite:.+|postgres(ql)?:\/\/.+)$/, forms: ["sqlite:<path>", "sqlite::memory:", "postgres://..."] },
    default: DEFAULT_DATABASE_URL,
    doc: "the database",
  },
  ...DATABASE_SETTINGS,
  {
    option: "redisUrl",
    env: "TOKENVER_REDIS_URL",
    kind: { type: "url", pattern: /^rediss?:\/\/.+/, forms: ["redis://...", "rediss://..."] },
    doc: "shared revocation state, rate-limit counters and cache invalidation for several nodes",
  },
  {
    option: "secret",
    env: "TOKENVER_SECRET",
    kind: { type: "string", minBytes: 32 },
    defaultText: "generated once, stored in the database",
    doc: "HS256 signing secret",
  },
  {
    option: "accessTtl",
    env: "TOKENVER_ACCESS_TTL",
    kind: { type: "integer", min: 1, max: 86_400 },
    default: 900,
    doc: "access-token lifetime, seconds",
  },
  {
    option: "refreshTtl",
    env: "TOKENVER_REFRESH_TTL",
    kind: { type: "integer", min: 60, max: 31_536_000, atLeast: "accessTtl" },
    default: 1_209_600,
    doc: "refresh-token (and idle session) lifetime, seconds",
  },
  {
    option: "issuer",
    env: "TOKENVER_ISSUER",
    kind: { type: "string", nonEmpty: true },
    default: "tokenver",
    doc: "`iss` of issued tokens; tokens with another `iss` are refused",
  },
  {
    // The Fastify and Express adapters follow the application's own trust-proxy setting.
    serverOption: "trustProxy",
    env: "TOKENVER_TRUST_PROXY",
    kind: { type: "trust-proxy", maxHops: 16 },
    default: false,
    doc: "use `X-Forwarded-For` for client addresses in the built-in server",
  },
  {
    // Slow clients: a request (headers and body) must arrive whole within this (docs/api.md section 3).
    serverOption: "requestTimeout",
    env: "TOKENVER_REQUEST_TIMEOUT",
    kind: { type: "integer", min: 1, max: 3600 },
    default: 30,
    doc: "seconds a request may take to arrive whole; slower ones are cut with 408",
  },
  {
    // Keep it above the load balancer's idle timeout (docs/operations: the balancer must close first).
    serverOption: "keepAliveTimeout",
    env: "TOKENVER_KEEPALIVE_TIMEOUT",
    kind: { type: "integer", min: 1, max: 3600 },
    default: 5,
    doc: "seconds an idle keep-alive connection stays open",
  },
  {
    serverOption: "maxConnections",
    env: "TOKENVER_MAX_CONNECTIONS",
    kind: { type: "integer", min: 1, max: 1_000_000 },
    default: 512,
    doc: "open connections this process accepts at once; more are refused (keep it under the file-descriptor limit)",
  },
  {
    option: "clockTolerance",
    env: "TOKENVER_CLOCK_TOLERANCE",
    kind: { type: "integer", min: 0, max: 300 },
    default: 5,
    doc: "leeway on `exp` and `nbf`, seconds",
  },
  {
    option: "rateLimit.accountFailures",
    env: "TOKENVER_RATE_LIMIT_ACCOUNT",
    kind: { type: "integer", min: 1, max: 1_000_000 },
    default: 10,
    doc: "failed password checks (logins, password changes) per account per window before 429",
  },
  {
    option: "rateLimit.addressFailures",
    env: "TOKENVER_RATE_LIMIT_ADDRESS",
    kind: { type: "integer", min: 1, max: 1_000_000 },
    default: 100,
    doc: "failed password checks per client address per window before 429",
  },
  {
    option: "rateLimit.windowSeconds",
    env: "TOKENVER_RATE_LIMIT_WINDOW",
    kind: { type: "integer", min: 1, max: 86_400 },
    default: 900,
    doc: "throttling window, seconds",
  },
  {
    // Each registration costs an argon2id hash (docs/api.md section 8).
    option: "rateLimit.registrations",
    env: "TOKENVER_RATE_LIMIT_REGISTER",
    kind: { type: "integer", min: 1, max: 1_000_000 },
    default: 20,
    doc: "registrations per client address per window before 429",
  },
  {
    option: "rateLimit.addressLogins",
    env: "TOKENVER_RATE_LIMIT_ADDRESS_LOGINS",
    kind: { type: "integer", min: 1, max: 1_000_000 },
    default: 300,
    doc: "successful logins per client address per window before 429 (failures count against the lower limit above)",
  },
  {
    // Checked before the account lookup, and the dummy hash of an unknown account waits in it too.
    option: "hashQueue",
    env: "TOKENVER_HASH_QUEUE",
    kind: { type: "integer", min: 1, max: 100_000 },
    default: 64,
    doc: "password hashes that may wait for a thread at once; more answer 503 with `Retry-After` at once",
  },
  {
    // The library leaves pruning to the application (`auth.prune()`, `tokenver prune`).
    option: "pruneInterval",
    env: "TOKENVER_PRUNE_INTERVAL",
    kind: { type: "integer", min: 0, max: 604_800 },
    default: 0,
    serverDefault: 3600,
    doc: "delete expired sessions and refresh tokens every this many seconds; `0`: never",
  },
  ...EVENTS_SETTINGS,
  ...WEBHOOK_SETTINGS,
  {
    option: "redisPrefix",
    env: "TOKENVER_REDIS_PREFIX",
    kind: { type: "string" },
    default: "tokenver:",
    doc: "key prefix in Redis, the same on every node (several deployments can share one Redis)",
  },
  {
    // Also how long a node reads the database instead of Redis after a Redis outage, so entries
    // that may have missed a revocation expire first.
    option: "redisEntryTtl",
    env: "TOKENVER_REDIS_ENTRY_TTL",
    kind: { type: "integer", min: 1, max: 86_400 },
    default: 60,
    doc: "seconds a Redis entry lives, and how long a node reads the database after seeing Redis (re)appear",
  },
  {
    // A node that loses Redis stops answering from its cache before its lease runs out.
    option: "redisNodeLease",
    env: "TOKENVER_REDIS_NODE_LEASE",
    kind: { type: "integer", min: 1, max: 60 },
    default: 5,
    doc: "seconds a node's registration for cache invalidation lasts unrenewed: the longest a dead node holds revocations up",
  },
  {
    // Exact with SQLite (this process is the only writer) and with Redis (every revocation has each
    // caching node forget what it changes before it commits: docs/scale-out.md). Off for PostgreSQL
    // without Redis, where it would be exact only if this process were the only one.
    option: "localCache",
    env: "TOKENVER_LOCAL_CACHE",
    kind: { type: "boolean" },
    defaultText: "`true` with SQLite or Redis, else `false`",
    doc: "answer from an in-process copy of the revocation state; `false` with Redis: one Redis round trip per request",
  },
  {
    serverOption: "logLevel",
    env: "TOKENVER_LOG_LEVEL",
    kind: { type: "enum", values: ["fatal", "error", "warn", "info", "debug", "trace", "silent"] },
    default: "info",
    doc: "pino log level",
  },
  {
    option: "userFields",
    kind: { type: "object", expected: "must be an object of TypeBox schemas", entry: userFieldEntry },
    default: Object.freeze({}),
    defaultText: "`{}`",
    doc: "extra profile fields stored on each user, as TypeBox schemas",
  },
  {
    // A second process on the same file would miss this one's revocations (each keeps an
    // in-process copy). The CLI's migrate and prune, which revoke nothing, turn it off.
    option: "sqliteLock",
    kind: { type: "boolean" },
    default: true,
    doc: "lock a SQLite file to this process, so a second tokenver process fails at start-up",
  },
  { option: "migrate", kind: { type: "boolean" }, default: true, doc: "apply pending migrations on start-up" },
  {
    option: "onWarning",
    kind: { type: "function" },
    default: () => {},
    defaultText: "none",
    doc: "where warnings go (a generated secret, a fallback to the database)",
  },
  {
    option: "clock",
    kind: { type: "function" },
    default: systemClock,
    defaultText: "the system clock",
    doc: "milliseconds since the epoch; injectable for tests, where it stands for every clock (on PostgreSQL the signing keys' too, which otherwise follow the database's: docs/keys.md)",
  },
  ...MAIL_SETTINGS,
  ...BROWSER_SETTINGS,
  ...RECOVERY_SETTINGS,
  ...OPERATIONS_SETTINGS,
  ...KEYS_SETTINGS,
] as const satisfies readonly Setting[];

/** The row of a server-only setting. */
export function serverSetting(name: ServerOption): Setting {
  return (SETTINGS as readonly Setting[]).find((s) => s.serverOption === name)!;
}

/** The environment variable that sets an option (`rateLimit.windowSeconds`, `trustProxy`), if any. */
export function envOfOption(option: string): string | undefined {
  return (SETTINGS as readonly Setting[]).find((s) => s.option === option || s.serverOption === option)?.env;
}
