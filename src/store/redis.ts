import { Redis } from "ioredis";
import type { Store } from "./database.js";
import type { ResolvedOptions } from "../core/options.js";
import { OptionError } from "../core/options.js";
import { MemoryCounterStore, type CounterStore } from "./rate-limit.js";
import { DatabaseRevocationState, type RevocationChange, type RevocationState, type SessionState } from "./revocation.js";

/**
 * Shared revocation state for several nodes: PostgreSQL is the system of record, Redis a fast
 * shared copy read with ONE round trip per request (MGET of the user's version and the session).
 *
 * The protocol that keeps it exact (see docs/scale-out.md):
 * - Keys: `v:<userId>` = token_version, `s:<sessionId>` = `<userId>:<0|1 revoked>`; or the
 *   marker `p` (a revocation is in flight: read the database). Every key expires (entryTtl).
 * - A revoking write first sets `p` on the keys it will change, commits to the database, then
 *   writes the new values: versions with a max (never lower), sessions as revoked (terminal).
 * - A request that misses (no key, or `p`) reads the database and fills only absent keys (NX), so
 *   a read that raced a revocation can never write back an older state over `p` or a newer value.
 * - When Redis fails, requests read the database; revocations still commit there. After any
 *   outage a node distrusts Redis for one entry lifetime, so entries written before the outage
 *   (which may have missed revocations) have expired before it reads Redis again.
 */
export class RedisRevocationState implements RevocationState {
  readonly #redis: Redis;
  readonly #database: DatabaseRevocationState;
  readonly #prefix: string;
  readonly #ttl: number;
  readonly #warn: (message: string) => void;
  /** Epoch ms from which Redis may be read again; Infinity while disconnected. */
  #trustedFrom = 0;
  #closed = false;

  constructor(options: {
    redis: Redis;
    database: DatabaseRevocationState;
    prefix: string;
    entryTtlSeconds: number;
    onWarning: (message: string) => void;
  }) {
    this.#redis = options.redis;
    this.#database = options.database;
    this.#prefix = options.prefix;
    this.#ttl = options.entryTtlSeconds;
    this.#warn = options.onWarning;
    this.#redis.defineCommand("tokenverRevoke", { numberOfKeys: 1, lua: REVOKE_SCRIPT });
    this.#redis.on("close", () => this.#distrust());
    this.#redis.on("ready", () => {
      if (this.#trustedFrom === Infinity) {
        this.#trustedFrom = Date.now() + this.#ttl * 1000;
        this.#warn(`redis reachable again: reading the database for ${this.#ttl}s until older entries expire`);
      }
    });
  }

  #distrust(): void {
    if (this.#closed || this.#trustedFrom === Infinity) return;
    this.#trustedFrom = Infinity;
    this.#warn("redis unreachable: revocation state is read from the database");
  }

  #trusted(): boolean {
    return this.#redis.status === "ready" && Date.now() >= this.#trustedFrom;
  }

  async get(sessionId: string, userId: string): Promise<SessionState | undefined> {
    const versionKey = this.#prefix + "v:" + userId;
    const sessionKey = this.#prefix + "s:" + sessionId;
    if (this.#trusted()) {
      try {
        const [version, session] = await this.#redis.mget(versionKey, sessionKey);
        const hit = parseHit(version ?? null, session ?? null);
        if (hit !== undefined) return hit;
      } catch {
        // Fall through to the database: exact, only slower.
      }
    }
    const state = await this.#database.get(sessionId);
    if (state !== undefined && this.#redis.status === "ready") this.#fill(versionKey, sessionKey, state);
    return state;
  }

  /** Fills absent keys only (NX): never overwrites an in-flight marker or a newer value. */
  #fill(versionKey: string, sessionKey: string, state: SessionState): void {
    this.#redis
      .multi()
      .set(versionKey, String(state.tokenVersion), "EX", this.#ttl, "NX")
      .set(sessionKey, `${state.userId}:${state.revoked ? 1 : 0}`, "EX", this.#ttl, "NX")
      .exec()
      .catch(() => {});
  }

  async beforeRevoke(change: RevocationChange): Promise<void> {
    const keys = this.#keysOf(change);
    try {
      const multi = this.#redis.multi();
      for (const key of keys) multi.set(key, "p", "EX", this.#ttl);
      await multi.exec();
    } catch {
      // Redis is down for this node: the database write still happens, and this node distrusts
      // Redis until older entries have expired.
      this.#distrust();
    }
  }

  async afterRevoke(change: RevocationChange): Promise<void> {
    try {
      const multi = this.#redis.multi();
      if (change.tokenVersion !== undefined) {
        (multi as unknown as RevokeMulti).tokenverRevoke(this.#prefix + "v:" + change.userId, String(change.tokenVersion), String(this.#ttl));
      }
      for (const id of change.sessionIds ?? []) multi.set(this.#prefix + "s:" + id, `${change.userId}:1`, "EX", this.#ttl);
      await multi.exec();
    } catch {
      // The `p` markers stay until they expire, so every node reads the database for these keys.
      this.#distrust();
    }
  }

  #keysOf(change: RevocationChange): string[] {
    // A change without session ids is a version bump of the user (logout all, password change).
    if (change.sessionIds === undefined) return [this.#prefix + "v:" + change.userId];
    return change.sessionIds.map((id) => this.#prefix + "s:" + id);
  }

  async ping(): Promise<void> {
    await this.#database.ping();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#redis.disconnect();
  }
}

type RevokeMulti = { tokenverRevoke(key: string, version: string, ttl: string): unknown };

/** Raises a version, never lowers it; replaces the in-flight marker `p`. */
const REVOKE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]))
local next = tonumber(ARGV[1])
if current == nil or current < next then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1`;

function parseHit(version: string | null, session: string | null): SessionState | undefined {
  if (version === null || session === null || version === "p" || session === "p") return undefined;
  const separator = session.lastIndexOf(":");
  if (separator <= 0) return undefined;
  const tokenVersion = Number(version);
  if (!Number.isSafeInteger(tokenVersion)) return undefined;
  return { userId: session.slice(0, separator), tokenVersion, revoked: session.charCodeAt(separator + 1) === 49 /* "1" */ };
}

/**
 * Fixed-window counters shared by every node. When Redis does not answer, counting continues in
 * this process's memory: throttling gets per-node for the outage, it never switches off.
 */
export class RedisCounterStore implements CounterStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #fallback: MemoryCounterStore;

  constructor(redis: Redis, prefix: string, clock: () => number) {
    this.#redis = redis;
    this.#prefix = prefix + "rl:";
    this.#fallback = new MemoryCounterStore(clock);
    this.#redis.defineCommand("tokenverHit", { numberOfKeys: 1, lua: HIT_SCRIPT });
    this.#redis.defineCommand("tokenverRelease", { numberOfKeys: 1, lua: RELEASE_SCRIPT });
  }


  async hit(key: string, windowSeconds: number) {
    try {
      const [count, ttl] = (await (this.#redis as unknown as CounterCommands).tokenverHit(this.#prefix + key, String(windowSeconds))) as [number, number];
      return { count, retryAfter: Math.max(1, ttl) };
    } catch {
      return this.#fallback.hit(key, windowSeconds);
    }
  }

  async release(key: string) {
    await this.#fallback.release(key);
    try {
      await (this.#redis as unknown as CounterCommands).tokenverRelease(this.#prefix + key);
    } catch {
      // The counter expires with its window.
    }
  }

  async reset(key: string) {
    await this.#fallback.reset(key);
    try {
      await this.#redis.del(this.#prefix + key);
    } catch {
      // The counter expires with its window.
    }
  }

  async close() {
    await this.#fallback.close();
  }
}

type CounterCommands = {
  tokenverHit(key: string, window: string): Promise<unknown>;
  tokenverRelease(key: string): Promise<unknown>;
};

/** Gives one attempt back (a success that was counted first); DECR keeps the window's TTL. */
const RELEASE_SCRIPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
return 1`;

const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('TTL', KEYS[1])}`;


export async function connectRedisState(store: Store, options: ResolvedOptions): Promise<{ revocation: RevocationState; counters: CounterStore }> {
  const redis = new Redis(options.redisUrl!, {
    lazyConnect: true,
    // Fail fast instead of queueing while disconnected: the caller falls back to the database.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 1000,
    connectTimeout: 3000,
    retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
  });
  // Connection errors are handled by the fallback; an unhandled 'error' event would crash.
  redis.on("error", () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new OptionError("redisUrl", "could not be reached", { cause: error });
  }
  const database = new DatabaseRevocationState(store.db, store.sqlite);
  const revocation = new RedisRevocationState({
    redis,
    database,
    prefix: options.redisPrefix,
    entryTtlSeconds: options.redisEntryTtl,
    onWarning: (m) => options.onWarning(m),
  });
  return { revocation, counters: new RedisCounterStore(redis, options.redisPrefix, options.clock) };
}
