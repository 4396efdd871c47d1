import { Redis } from "ioredis";
import type { Store } from "../database.js";
import { RedisInvalidation } from "./invalidation.js";
import { DatabaseRevocationState } from "../revocation/database-state.js";
import { LocalRevocationCache } from "../revocation/local-cache.js";
import { type RevocationChange, type RevocationState, type SessionState } from "../revocation/state.js";

/**
 * Shared revocation state for several nodes: PostgreSQL is the system of record, Redis a fast
 * shared copy read with ONE round trip per request (one MGET).
 *
 * The protocol that keeps it exact (docs/scale-out.md):
 * - Keys: `v:<user>` the token_version, `pv:<user>` how many version bumps of that user are in
 *   flight, `s:<session>` `<user>:<0|1 revoked>` or the in-flight marker `p`. Every key expires.
 * - A revoking write first marks its keys in flight (`pv` +1, or `s` = `p`) and must succeed in
 *   doing so, else it is refused with 503 before anything is committed. Then it commits to the
 *   database, then writes the new values: versions only go up (a Lua max, then `pv` -1), sessions
 *   only go to revoked. If that last write fails, the markers stay until they expire, and with
 *   them every node reads the database for those keys.
 * - A request that misses (absent key, `pv` > 0, or `p`) reads the database and fills only absent
 *   keys, and no version while `pv` > 0: a read that raced a revocation never writes back an
 *   older state.
 * - Redis is trusted only one entry lifetime after a node has seen it answer (at start, and after
 *   any failure or outage), so entries that a Redis restored from an older snapshot might hold
 *   have expired before anyone reads them.
 * - With node caches (the default), a revoking write also has every caching node forget the keys
 *   once they are marked, before it commits (redis-invalidation.ts); only Redis hits are cacheable.
 * - A revoking write that finds its markers lost when it writes the new values (Redis restarted or
 *   failed over meanwhile) has every node forget the keys again before it returns (afterRevoke).
 */
export class RedisRevocationState implements RevocationState {
  readonly #redis: Redis;
  readonly #database: DatabaseRevocationState;
  readonly #prefix: string;
  readonly #ttl: number;
  readonly #warn: (message: string) => void;
  readonly #invalidation: RedisInvalidation;
  /** Seconds an in-flight marker lives: longer than any revoking transaction can take. */
  readonly #markerTtl: number;
  /** performance.now() from which Redis may be read; Infinity while it does not answer. */
  #trustedFrom: number;
  #probe: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: {
    redis: Redis;
    database: DatabaseRevocationState;
    prefix: string;
    entryTtlSeconds: number;
    invalidation: RedisInvalidation;
    onWarning: (message: string) => void;
  }) {
    this.#redis = options.redis;
    this.#database = options.database;
    this.#prefix = options.prefix;
    this.#ttl = options.entryTtlSeconds;
    this.#warn = options.onWarning;
    this.#invalidation = options.invalidation;
    // Long enough for the broadcast and a transaction of MIN_MARKER_TTL_SECONDS - COMMIT_MARGIN.
    this.#markerTtl = Math.max(this.#ttl, MIN_MARKER_TTL_SECONDS) + Math.ceil(this.#invalidation.longestBroadcastMs / 1000);
    this.#trustedFrom = performance.now() + this.#ttl * 1000;
    this.#redis.defineCommand("tokenverFill", { numberOfKeys: 3, lua: FILL_SCRIPT });
    this.#redis.on("close", () => this.#distrust());
  }

  /** Reads the database until Redis answers again, then for one entry lifetime more. */
  #distrust(): void {
    if (this.#closed || this.#probe !== undefined) return;
    this.#trustedFrom = Infinity;
    this.#warn("redis not answering: revocation state is read from the database");
    this.#probe = setInterval(() => {
      this.#redis.ping().then(
        () => {
          if (this.#probe === undefined) return;
          clearInterval(this.#probe);
          this.#probe = undefined;
          this.#trustedFrom = performance.now() + this.#ttl * 1000;
          this.#warn(`redis answering again: reading the database for ${this.#ttl}s more, until older entries expire`);
        },
        () => {},
      );
    }, 250);
    this.#probe.unref();
  }

  async get(sessionId: string, userId: string): Promise<SessionState | undefined> {
    return (await this.read(sessionId, userId)).state;
  }

  /**
   * Cacheable only when Redis answered and showed no revocation of these keys in flight: then a
   * revocation not seen here marked its keys after this read began, and its invalidation voids
   * this read's fill (the cache's epoch). Otherwise (a marker, no trusted answer) it is not.
   */
  async read(sessionId: string, userId: string): Promise<{ state: SessionState | undefined; cacheable: boolean }> {
    const versionKey = this.#prefix + "v:" + userId;
    const pendingKey = this.#prefix + "pv:" + userId;
    const sessionKey = this.#prefix + "s:" + sessionId;
    // Neither read nor fill while distrusted: a fill then could outlive the window and carry a
    // state read before a revocation whose markers a restart or failover erased.
    const trusted = performance.now() >= this.#trustedFrom;
    let unmarked = false;
    if (trusted) {
      try {
        const [version, pending, session] = await this.#redis.mget(versionKey, pendingKey, sessionKey);
        const hit = parseHit(version ?? null, pending ?? null, session ?? null);
        if (hit !== undefined) return { state: hit, cacheable: true };
        unmarked = (pending == null || pending === "0") && session !== "p";
      } catch {
        // Fall through to the database (exact, only slower) and stop asking Redis for a while.
        this.#distrust();
      }
    }
    const state = await this.#database.get(sessionId);
    // Trust is asked again: the MGET above may just have failed and ended it.
    if (state !== undefined && performance.now() >= this.#trustedFrom) {
      (this.#redis as unknown as RevocationCommands)
        .tokenverFill(
          versionKey,
          pendingKey,
          sessionKey,
          String(state.tokenVersion),
          `${state.userId}:${state.revoked ? 1 : 0}`,
          String(this.#ttl),
        )
        .catch(() => {});
    }
    return { state, cacheable: unmarked };
  }

  async beforeRevoke(change: RevocationChange): Promise<number> {
    // The marker must outlive the commit: the caller commits before this deadline or not at all.
    const deadline = performance.now() + this.#markerTtl * 1000 - COMMIT_MARGIN_MS;
    const multi = this.#redis.multi();
    if (change.sessionIds === undefined) {
      // A version bump of the user (logout all, password change).
      const pendingKey = this.#prefix + "pv:" + change.userId;
      // `v` lives at most one entry lifetime, the marker longer, so `v` never outlives it.
      multi.incr(pendingKey).expire(pendingKey, this.#markerTtl);
    } else {
      for (const id of change.sessionIds) multi.set(this.#prefix + "s:" + id, "p", "EX", this.#markerTtl);
    }
    try {
      const results = await multi.exec();
      if (results === null || results.some(([error]) => error !== null)) throw new Error("redis refused the in-flight marker");
    } catch (error) {
      // Without the marker another node could go on reading the old state after we commit:
      // refuse the revocation (503) rather than report one that some node would not honour.
      this.#distrust();
      throw error;
    }
    // Marked: no node can cache these keys again until the new values are written. Now every
    // node forgets what it holds of them, or this revocation does not commit (503).
    await this.#invalidation.broadcast(change, deadline);
    return deadline;
  }

  async afterRevoke(change: RevocationChange): Promise<void> {
    let written = true;
    let markersLost = false;
    try {
      const multi = this.#redis.multi();
      if (change.tokenVersion !== undefined) {
        // EVAL, not a defined command: inside MULTI, ioredis's EVALSHA would fail with NOSCRIPT
        // on a connection that outlived a failover or SCRIPT FLUSH, and keep failing.
        multi.eval(
          RAISE_SCRIPT,
          2,
          this.#prefix + "v:" + change.userId,
          this.#prefix + "pv:" + change.userId,
          String(change.tokenVersion),
          String(this.#ttl),
        );
      }
      const sessionsMarked = change.tokenVersion === undefined;
      for (const id of change.sessionIds ?? []) {
        if (sessionsMarked) multi.get(this.#prefix + "s:" + id);
        multi.set(this.#prefix + "s:" + id, `${change.userId}:1`, "EX", this.#ttl);
      }
      const results = await multi.exec();
      if (results === null || results.some(([error]) => error !== null)) throw new Error("redis refused the new values");
      // The markers beforeRevoke set should still be there (they outlive the commit): a bump's
      // `pv`, or else the sessions' `p` (a bump's own list of sessions was never marked). A session
      // key may also hold another revocation's "revoked" by now: harmless to take for a loss.
      markersLost = sessionsMarked ? results.some(([, value], i) => i % 2 === 0 && value !== "p") : results[0]![1] !== 1;
    } catch {
      // Committed already: the in-flight markers stay until they expire, so every node reads the
      // database for these keys meanwhile. The revocation holds; only reads get slower.
      written = false;
      this.#distrust();
    }
    // Unless Redis lost the markers (a restart or failover since they were set) and was back, and
    // trusted again, before this commit: a node may then have read the older state unmarked, kept
    // it and filled it back. The new values above overwrote the fills; now every node forgets its
    // copy again (the user's version for a bump, as beforeRevoke had them do), or the revocation
    // cannot be confirmed: 503, although it is committed. When the new values could not be
    // written, Redis is failing again: nodes stop answering from memory within a lease, and a fill
    // expires before any node trusts Redis again.
    if (written && markersLost) await this.#forgetAgain(change.tokenVersion !== undefined ? { userId: change.userId } : change);
  }

  /**
   * A committed write changed the user's row, not its version: every caching node forgets the
   * user (its row and version) and acknowledges before this resolves. No marker is needed: a row
   * read that began before a node processed this is void there (the cache's epoch), and one that
   * begins after it reads the committed row (nodes keep rows only from reads begun under a lease).
   * Retried for one broadcast's length (this node's subscription may be reconnecting); then it
   * warns and resolves: the write has committed and its answer (new recovery codes, a session)
   * must reach the caller. A node that missed it answers the old row for at most one entry
   * lifetime; nothing that decides access reads the row (docs/scale-out.md, "User rows").
   */
  async userChanged(userId: string): Promise<void> {
    const giveUpAt = performance.now() + this.#invalidation.longestBroadcastMs;
    for (;;) {
      try {
        return await this.#invalidation.broadcast({ userId }, giveUpAt);
      } catch {
        if (this.#closed || performance.now() > giveUpAt) {
          this.#warn(`a change of user ${userId}'s row was not confirmed by every node: one may show the old row for up to ${this.#ttl}s`);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** Broadcasts an invalidation, retrying for a while (a subscriber may still be reconnecting after the restart). */
  async #forgetAgain(change: RevocationChange): Promise<void> {
    const giveUpAt = performance.now() + 2 * this.#invalidation.longestBroadcastMs;
    for (;;) {
      try {
        return await this.#invalidation.broadcast(change, Math.min(giveUpAt, performance.now() + this.#invalidation.longestBroadcastMs));
      } catch (error) {
        if (this.#closed || performance.now() > giveUpAt) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  async ping(): Promise<void> {
    await this.#database.ping();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#probe);
    await this.#invalidation.close();
    this.#redis.disconnect();
  }
}

type RevocationCommands = {
  tokenverFill(versionKey: string, pendingKey: string, sessionKey: string, version: string, session: string, ttl: string): Promise<unknown>;
};

/**
 * After a committed bump: end this bump's in-flight mark and raise the version (never lower it).
 * While other bumps are still in flight, the version may not outlive their marker: if one of them
 * never writes its value, the older version must be gone when the marker goes. Returns 1 when a
 * mark was still there to end, 0 when Redis had lost it.
 */
const RAISE_SCRIPT = `
local left = tonumber(redis.call('GET', KEYS[2]) or '0')
local marked = 0
if left > 0 then
  marked = 1
  left = redis.call('DECR', KEYS[2])
end
local current = tonumber(redis.call('GET', KEYS[1]))
local next = tonumber(ARGV[1])
if current == nil or current < next then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
if left > 0 then
  local markerLeft = redis.call('PTTL', KEYS[2])
  if markerLeft > 0 and redis.call('PTTL', KEYS[1]) > markerLeft then redis.call('PEXPIRE', KEYS[1], markerLeft) end
end
return marked`;

/** Revoking transactions take at most a few statement timeouts (10 s each); markers outlive them. */
const MIN_MARKER_TTL_SECONDS = 60;
/**
 * How long before its marker expires a revocation must have sent its COMMIT: a COMMIT held up on
 * the way is rolled back after PostgreSQL's idle_in_transaction_session_timeout (10 s), and one
 * that arrived runs at most statement_timeout (10 s) (database.ts), plus 5 s to spare.
 */
const COMMIT_MARGIN_MS = 25_000;

/** After a database read: fill absent keys only, and no version while a bump is in flight. */
const FILL_SCRIPT = `
if tonumber(redis.call('GET', KEYS[2]) or '0') == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[3])
end
redis.call('SET', KEYS[3], ARGV[2], 'NX', 'EX', ARGV[3])
return 1`;

function parseHit(version: string | null, pending: string | null, session: string | null): SessionState | undefined {
  if (version === null || session === null || session === "p") return undefined;
  if (pending !== null && pending !== "0") return undefined;
  const separator = session.lastIndexOf(":");
  if (separator <= 0) return undefined;
  const tokenVersion = Number(version);
  if (!Number.isSafeInteger(tokenVersion)) return undefined;
  return { userId: session.slice(0, separator), tokenVersion, revoked: session.charCodeAt(separator + 1) === 49 /* "1" */ };
}
