import { randomBytes } from "node:crypto";
import {
  DatabaseDriverMissingError,
  DatabaseInUseError,
  openStore,
  OwnDatabaseError,
  useOwnDatabase,
  type Store,
} from "./store/database.js";
import type { TableLayout } from "./store/table-layout.js";
import { describeDatabaseError } from "./store/database-errors.js";
import { getOrInsertMeta } from "./store/queries/meta.js";
import { emailKeyWarnings } from "./store/queries/users.js";
import { migrateToLatest } from "./store/migrations/index.js";
import { MemoryCounterStore, type CounterStore } from "./store/counters/counter-store.js";
import { DatabaseRevocationState } from "./store/revocation/database-state.js";
import { LocalRevocationCache } from "./store/revocation/local-cache.js";
import { ExternalWrites, SettlingRevocationState } from "./store/revocation/external-writes.js";
import { type CacheLease, type RevocationState } from "./store/revocation/state.js";
import { assembleAuth, type Auth } from "./core/auth.js";
import type { CoreConfig } from "./core/config.js";
import { OptionError, resolveOptions } from "./settings/resolve.js";
import { type AuthOptions, type ResolvedOptions, type UserFields } from "./settings/table.js";
import type { RedisSettings } from "./store/redis/connect.js";
import { prepareDummyHash } from "./core/passwords/hashing.js";
import { loadPasswordPolicy } from "./core/passwords/policy.js";
import { webhookSettingsOf, WebhookSettingError, type WebhookSettings } from "./core/webhooks/settings.js";
import { customTransport, fileTransport, smtpTransport, type MailTransport } from "./core/mail/transport.js";
import type { Metrics } from "./metrics/metrics.js";
import { openKeys } from "./core/keys/open-keys.js";
import { keysClockOf } from "./core/keys/keys-context.js";
import type { KeysContext } from "./core/keys/keys-context.js";
import { SigningKeyError } from "./core/keys/material.js";
import { SecretMismatchError } from "./core/keys/key-ring.js";

export type { Auth };

/**
 * Creates the auth service: validates options (throws `OptionError`, a TypeError naming the
 * option), connects and migrates the database, loads or generates the signing secret, and wires
 * the revocation state (local cache, database or Redis).
 */
export async function createAuth<F extends UserFields = {}>(options: AuthOptions<F> = {}): Promise<Auth<F>> {
  const resolved = resolveOptions(options as AuthOptions<UserFields>);
  checkDatabase(options as AuthOptions<UserFields>, resolved);
  checkConsistency(resolved);
  const webhooks = webhooksOf(resolved);
  // prom-client is loaded only for a service that keeps metrics.
  const metrics = resolved.metrics ? new (await import("./metrics/metrics.js")).Metrics() : undefined;
  const store = await connect(resolved);
  let redis: RedisParts | undefined;
  try {
    const secret = await loadSecret(store, resolved);
    const { keys, started } = await openKeys(store.db, secret, {
      ...resolved,
      keysClock: keysClockOf(store.dialect, resolved.clock),
    }).catch((error: unknown) => {
      if (error instanceof SigningKeyError) throw new OptionError("signingKey", error.message, { cause: error });
      if (error instanceof SecretMismatchError) throw new OptionError("secret", error.message, { cause: error });
      throw error;
    });
    for (const warning of await emailKeyWarnings(store.db)) resolved.onWarning(warning);
    if (store.sqlite !== undefined && store.exclusive !== false && store.sqlite.name !== ":memory:") {
      // Commands beside this server (tokenver keys) change the keys: seen before the next answer.
      keys.ring.watchSqlite(new ExternalWrites(store.sqlite), store.sqlite);
    }
    redis = resolved.redisUrl === undefined ? undefined : await connectRedis(store, resolved, metrics, keys);
    if (resolved.redisUrl !== undefined) {
      // Key changes reach every node at once over Redis (the poll is the fallback).
      const { KeyAnnouncements } = await import("./store/redis/key-announcements.js");
      const announcements = await KeyAnnouncements.open(resolved.redisUrl, resolved.redisPrefix, () => {
        keys.ring.reload().catch(() => {});
      }).catch((error: unknown) => {
        throw new OptionError("redisUrl", "could not be subscribed to", { cause: error });
      });
      keys.announce = () => announcements.announce();
      keys.ring.onStop(() => announcements.close());
      const keyRevocations = redis!.keyRevocations;
      keys.broadcastRevoked = (kid) => keyRevocations.broadcast(kid);
      if (keyRevocations.lease !== undefined) keys.ring.followLease(keyRevocations.lease);
    }
    const revocation = redis?.revocation ?? defaultRevocation(store, resolved, metrics);
    const counters: CounterStore = redis?.counters ?? new MemoryCounterStore(resolved.clock);
    await Promise.all([loadPasswordPolicy(), prepareDummyHash()]);
    const mail = { transport: mailTransportOf(resolved), from: resolved.mailFrom };
    return assembleAuth<F>({
      store,
      revocation,
      counters,
      config: coreConfigOf(resolved),
      secret,
      keys,
      keysStarted: started,
      webhooks,
      mail,
      metrics,
    });
  } catch (error) {
    await redis?.revocation.close().catch(() => {});
    await store.close().catch(() => {});
    throw error;
  }
}

/**
 * Refuses, before connecting anything, a combination that cannot keep the rule of docs/api.md
 * section 2 (no node accepts a token another node revoked): node caches on PostgreSQL without
 * Redis. Each node would answer from its own copy and never hear of the revocations the others
 * commit; SQLite is one process (its file is locked), and Redis tells every caching node.
 */
function checkConsistency(options: ResolvedOptions): void {
  // The application's own connection: checked once its dialect is known (checkOwnDatabase()).
  if (options.database !== undefined) return;
  if (options.localCache === true && options.sqliteLock === false && options.databaseUrl.startsWith("sqlite:")) {
    throw new OptionError(
      "localCache",
      "cannot be true with sqliteLock false: a process beside the server that holds the SQLite file must not answer from a copy of its revocations",
    );
  }
  if (options.localCache === true && options.redisUrl === undefined && !options.databaseUrl.startsWith("sqlite:")) {
    throw new OptionError("localCache", POSTGRES_CACHE_WITHOUT_REDIS);
  }
}

const POSTGRES_CACHE_WITHOUT_REDIS =
  "cannot be true with PostgreSQL and no Redis: each node's cache would miss the revocations of the others; set a Redis URL (TOKENVER_REDIS_URL, redisUrl) or set it to false";

/**
 * The database options together: the application's connection replaces the URL (both would be a
 * mistake: which one holds the users?), with exactly one of its forms; a schema is PostgreSQL's.
 */
function checkDatabase(given: AuthOptions<UserFields>, options: ResolvedOptions): void {
  const database = options.database;
  if (database !== undefined) {
    if (given.databaseUrl !== undefined) {
      throw new OptionError(
        "database",
        "cannot be set with databaseUrl: tokenver uses the application's connection instead of opening one",
      );
    }
    const forms = Object.entries(database).filter(([, value]) => value !== undefined);
    if (forms.length !== 1) {
      throw new OptionError(
        "database",
        "must be { pool } (a pg Pool) or { kysely } (a Kysely instance on PostgreSQL or SQLite), one of them",
      );
    }
  } else if (options.schema !== undefined && options.databaseUrl.startsWith("sqlite:")) {
    throw new OptionError("schema", SCHEMA_ON_SQLITE);
  }
}

const SCHEMA_ON_SQLITE = "is for PostgreSQL only: a SQLite database has no schemas; give tokenver's tables a prefix instead (tablePrefix)";

/**
 * Where the outbox worker hands mail: the application's `sendMail`, SMTP, or (neither set) `.eml`
 * files, with a warning at start-up that mail is not being delivered.
 */
function mailTransportOf(options: ResolvedOptions): MailTransport {
  if (options.sendMail !== undefined) return customTransport(options.sendMail);
  if (options.smtpUrl !== undefined) return smtpTransport(options.smtpUrl);
  options.onWarning(
    `no SMTP server configured (TOKENVER_SMTP_URL): mail is not delivered, each one is written as an .eml file under ${options.mailOutboxDir}`,
  );
  return fileTransport(options.mailOutboxDir);
}

/** The webhook endpoints and secrets, checked before anything connects. */
function webhooksOf(options: ResolvedOptions): WebhookSettings | undefined {
  try {
    return webhookSettingsOf(options.webhookUrls, options.webhookSecret);
  } catch (error) {
    if (error instanceof WebhookSettingError) throw new OptionError(error.option, error.message);
    throw error;
  }
}

/** Only what the domain reads: the secret and the store settings stay here. */
function coreConfigOf(options: ResolvedOptions): CoreConfig {
  const {
    accessTtl,
    refreshTtl,
    issuer,
    clockTolerance,
    rateLimit,
    userFields,
    pruneInterval,
    eventRetention,
    hashQueue,
    onWarning,
    clock,
    refreshGrace,
  } = options;
  const publicUrl = options.publicUrl.replace(/\/+$/, "");
  const allowedOrigins = originsOf(publicUrl, options.allowedOrigins);
  return {
    accessTtl,
    refreshTtl,
    issuer,
    clockTolerance,
    rateLimit,
    userFields,
    pruneInterval,
    eventRetention,
    hashQueue,
    onWarning,
    clock,
    publicUrl,
    allowedOrigins,
    refreshGrace,
    resetTtl: options.resetTtl,
    verifyTtl: options.verifyTtl,
    requireVerifiedEmail: options.requireVerifiedEmail,
    unverifiedTtl: options.unverifiedTtl,
  };
}

/** The origin of the public URL, then each allowed origin, serialised as browsers send `Origin`. */
function originsOf(publicUrl: string, allowed: string | undefined): string[] {
  const origins = [new URL(publicUrl).origin];
  for (const entry of (allowed ?? "").split(",")) {
    const value = entry.trim();
    if (value === "") continue;
    let origin: string;
    try {
      origin = new URL(value).origin;
    } catch {
      throw new OptionError("allowedOrigins", `must be comma-separated origins; ${JSON.stringify(value)} is not one`);
    }
    if (origin === "null") throw new OptionError("allowedOrigins", `must be comma-separated origins; ${JSON.stringify(value)} is not one`);
    if (!origins.includes(origin)) origins.push(origin);
  }
  return origins;
}

async function connect(options: ResolvedOptions): Promise<Store> {
  const layout: TableLayout = { prefix: options.tablePrefix, schema: options.schema };
  // What an error is about: the application's connection, or the one tokenver opened.
  const option = options.database === undefined ? "databaseUrl" : "database";
  let store: Store | undefined;
  try {
    store =
      options.database === undefined
        ? await openStore(options.databaseUrl, { exclusive: options.sqliteLock, layout, onWarning: options.onWarning })
        : await useOwnDatabase(options.database, layout);
    checkOwnDatabase(store, options);
    if (options.migrate) await migrateToLatest(store.db, layout);
    else await store.db.selectFrom("tokenver_meta").select("key").limit(1).execute();
    return store;
  } catch (error) {
    await store?.close().catch(() => {});
    if (error instanceof OptionError) throw error;
    if (error instanceof DatabaseInUseError || error instanceof DatabaseDriverMissingError || error instanceof OwnDatabaseError) {
      throw new OptionError(option, error.message, { cause: error });
    }
    // The driver's message may carry the URL or its password: described from its code instead.
    throw new OptionError(option, describeDatabaseError(error, options.database === undefined ? options.databaseUrl : ""), {
      cause: error,
    });
  }
}

/**
 * The application's connection, once its dialect is known: no schema on SQLite, and no node cache
 * without Redis: on PostgreSQL for the reason of checkConsistency(), on an application's SQLite
 * connection because no lock on the file tells this process of the revocations another process
 * (`tokenver users logout`) commits to it.
 */
function checkOwnDatabase(store: Store, options: ResolvedOptions): void {
  if (store.dialect === "sqlite" && options.schema !== undefined) throw new OptionError("schema", SCHEMA_ON_SQLITE);
  if (store.owned || options.localCache !== true || options.redisUrl !== undefined) return;
  if (store.dialect === "postgres") throw new OptionError("localCache", POSTGRES_CACHE_WITHOUT_REDIS);
  throw new OptionError(
    "localCache",
    "cannot be true on the application's own SQLite connection (database): tokenver holds no lock on the file, so it would not notice revocations another process commits to it",
  );
}

async function loadSecret(store: Store, options: ResolvedOptions): Promise<string> {
  if (options.secret !== undefined) return options.secret;
  const { value, inserted } = await getOrInsertMeta(store.db, "signing_secret", randomBytes(48).toString("base64url"));
  if (inserted) {
    options.onWarning("no secret configured: generated a signing secret and stored it in the database; set TOKENVER_SECRET in production");
  }
  return value;
}

function defaultRevocation(store: Store, options: ResolvedOptions, metrics: Metrics | undefined): RevocationState {
  const database = new DatabaseRevocationState(store.db, store.sqlite);
  if (store.sqlite !== undefined && store.exclusive === false && store.sqlite.name !== ":memory:") {
    // Beside a server that holds the file (the CLI): no cache, and each revocation returns only
    // once that server's next check for other processes' commits is due (external-writes.ts).
    return new SettlingRevocationState(database);
  }
  // Not on an application's SQLite connection: no lock on its file (checkOwnDatabase()).
  const local = options.localCache ?? (store.dialect === "sqlite" && store.owned);
  // Exact because every revocation goes through this process (the SQLite file is locked to it)
  // or through one that waits for this process to notice it (external-writes.ts).
  if (!local) return database;
  const externalWrites = store.sqlite !== undefined && store.sqlite.name !== ":memory:" ? new ExternalWrites(store.sqlite) : undefined;
  return new LocalRevocationCache(database, {
    onLookup: metrics?.observer.cacheLookup,
    ...(externalWrites === undefined ? {} : { externalWrites }),
  });
}

interface RedisParts {
  revocation: RevocationState;
  counters: CounterStore;
  keyRevocations: { broadcast(kid: string): Promise<void>; lease: CacheLease | undefined };
}

async function connectRedis(store: Store, options: ResolvedOptions, metrics: Metrics | undefined, keys: KeysContext): Promise<RedisParts> {
  const { connectRedisState, RedisUnavailableError } = await import("./store/redis/connect.js");
  try {
    return await connectRedisState(store, {
      ...redisSettingsOf(options),
      onCacheLookup: metrics?.observer.cacheLookup,
      keys: { revoked: (kid) => keys.ring.revoked(kid), stale: () => keys.ring.stale() },
    });
  } catch (error) {
    if (error instanceof RedisUnavailableError) throw new OptionError("redisUrl", error.message, { cause: error });
    throw error;
  }
}

/** @internal The Redis parts' settings, from the resolved options. */
export function redisSettingsOf(options: ResolvedOptions): RedisSettings {
  return {
    url: options.redisUrl!,
    prefix: options.redisPrefix,
    entryTtlSeconds: options.redisEntryTtl,
    nodeLeaseSeconds: options.redisNodeLease,
    localCache: options.localCache,
    clock: options.clock,
    onWarning: (m) => options.onWarning(m),
  };
}
