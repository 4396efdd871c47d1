import { BoundedMap } from "../../lib/bounded-map.js";
import type { ExternalWrites } from "./external-writes.js";
import type { CacheLease, RevocationChange, RevocationState, SessionState, UserRowCache } from "./state.js";

/**
 * An in-process write-through cache over another state. Exact when every revoking write either goes
 * through this process (the embedded SQLite default) or reaches it as an invalidation it has
 * processed before the write commits (several nodes over Redis, with a `lease`), because:
 * - versions only grow and revocations are never undone, so updates are monotonic (max, and true);
 * - a read that started before an invalidation never fills the cache after it (the epoch);
 * - with a lease, it answers from memory only while the lease holds, and keeps only what the inner
 *   state calls cacheable (a Redis hit with no revocation in flight).
 *
 * The hit path allocates nothing: each cached session keeps the resolved answer it last gave and
 * rebuilds it only when the user's version moved or the session was revoked.
 *
 * It also keeps user rows (`readUser`, for `GET /profile` and `auth.getUser()`), exact by the same
 * rules plus one: a row is answered only for the token_version it was read at, which the caller's
 * token was just verified against. So a version bump (every revoking flow that changes the row:
 * email change, reset, deletion) retires it by itself, and every other writer of the row
 * announces its commit (`userChanged`, every node forgets the row before the write returns).
 * docs/scale-out.md, "User rows".
 */
export class LocalRevocationCache implements RevocationState, UserRowCache {
  readonly #inner: RevocationState;
  readonly #lease: CacheLease | undefined;
  readonly #externalWrites: ExternalWrites | undefined;
  readonly #maxAgeMs: number;
  readonly #sessions: BoundedMap<string, CachedSession>;
  readonly #versions: BoundedMap<string, number>;
  readonly #users: BoundedMap<string, CachedUser>;
  /** Reads under way, by session: a burst of requests with one token waits for one read. */
  readonly #loading = new Map<string, Loading>();
  /** Told of every lookup, answered from memory or not (metrics); usually absent. */
  readonly #onLookup: ((hit: boolean) => void) | undefined;
  #epoch = 0;

  /**
   * About 250 bytes per session and 120 per user: the default holds 100,000 of each in ~40 MB.
   * `maxAgeSeconds` (with a lease): entries are read again after that long, so a revoking process
   * that broke the rules (no Redis, another prefix) is missed no longer than a Redis entry would be.
   */
  constructor(
    inner: RevocationState,
    options: {
      maxEntries?: number;
      lease?: CacheLease;
      maxAgeSeconds?: number;
      onLookup?: (hit: boolean) => void;
      externalWrites?: ExternalWrites;
    } = {},
  ) {
    this.#inner = inner;
    this.#onLookup = options.onLookup;
    // SQLite: another process (a `tokenver users` command) committed to the file: forget everything.
    this.#externalWrites = options.externalWrites;
    this.#externalWrites?.onChange(() => this.clear());
    const max = options.maxEntries ?? DEFAULT_LOCAL_CACHE_ENTRIES;
    this.#sessions = new BoundedMap(max);
    this.#versions = new BoundedMap(max);
    this.#users = new BoundedMap(max);
    this.#lease = options.lease;
    this.#maxAgeMs = (options.maxAgeSeconds ?? Infinity) * 1000;
  }

  get(sessionId: string, userId: string): Promise<SessionState | undefined> {
    // Throws when the database cannot be read: verify() answers 503. Not checked (a transaction
    // is open on the connection): a read of its own, after it, neither memory nor a read under way.
    // So never await this inside a transaction of tokenver's connection: the read waits for it.
    if (this.#externalWrites?.check() === false) {
      this.#onLookup?.(false);
      return this.#read(sessionId, userId);
    }
    const session = this.#sessions.get(sessionId);
    if (session !== undefined && (this.#lease === undefined || this.#answersFromMemory(session))) {
      const tokenVersion = this.#versions.get(session.userId);
      if (tokenVersion !== undefined) {
        let answer = session.answer;
        if (answer === undefined || session.answeredFor !== tokenVersion) {
          answer = Promise.resolve(Object.freeze({ userId: session.userId, tokenVersion, revoked: session.revoked }));
          session.answer = answer;
          session.answeredFor = tokenVersion;
        }
        this.#onLookup?.(true);
        return answer;
      }
    }
    this.#onLookup?.(false);
    return this.#load(sessionId, userId);
  }

  #answersFromMemory(entry: { readonly expiresAt: number }): boolean {
    const now = performance.now();
    return now < this.#lease!.validUntil && now < entry.expiresAt && Date.now() < this.#lease!.wallValidUntil;
  }

  #leaseHolds(): boolean {
    return this.#lease === undefined || (performance.now() < this.#lease.validUntil && Date.now() < this.#lease.wallValidUntil);
  }

  /**
   * Joins a read of the same session under way, if no invalidation has happened since it began
   * and (with a lease) this node would still have been told of one: then it is as fresh as a new
   * read (a revocation it might predate has not been announced, so it has not committed). After
   * an invalidation, or without a lease, a request reads again.
   */
  #load(sessionId: string, userId: string): Promise<SessionState | undefined> {
    const loading = this.#loading.get(sessionId);
    if (loading !== undefined && loading.epoch === this.#epoch && loading.userId === userId && this.#leaseHolds()) return loading.result;
    const entry: Loading = { epoch: this.#epoch, userId, result: this.#read(sessionId, userId) };
    this.#loading.set(sessionId, entry);
    const done = () => {
      if (this.#loading.get(sessionId) === entry) this.#loading.delete(sessionId);
    };
    entry.result.then(done, done);
    return entry.result;
  }

  async #read(sessionId: string, userId: string): Promise<SessionState | undefined> {
    const epoch = this.#epoch;
    const readAt = this.#lease === undefined ? 0 : performance.now();
    let state: SessionState | undefined;
    let cacheable = true;
    if (this.#inner.read === undefined) state = await this.#inner.get(sessionId, userId);
    else ({ state, cacheable } = await this.#inner.read(sessionId, userId));
    if (state !== undefined && cacheable && epoch === this.#epoch) {
      this.#sessions.set(sessionId, {
        userId: state.userId,
        revoked: state.revoked,
        answeredFor: NOT_ANSWERED,
        answer: undefined,
        expiresAt: readAt + this.#maxAgeMs,
      });
      this.#versions.set(state.userId, state.tokenVersion);
    }
    return state;
  }

  /**
   * The user's row at `tokenVersion`. Not shared between requests while loading (unlike sessions):
   * `GET /profile` comes after a verify, which already waited for the session's read.
   */
  readUser<Row extends { token_version: number }>(
    userId: string,
    tokenVersion: number,
    load: (userId: string) => Promise<Row | undefined>,
  ): Promise<Row | undefined> {
    // Not checked (a transaction is open): read after it, as in get(); never awaited inside one.
    if (this.#externalWrites?.check() === false) return this.#loadUser(userId, load);
    const cached = this.#users.get(userId);
    if (cached !== undefined && cached.tokenVersion === tokenVersion && (this.#lease === undefined || this.#answersFromMemory(cached))) {
      return cached.answer as Promise<Row>;
    }
    return this.#loadUser(userId, load);
  }

  async #loadUser<Row extends { token_version: number }>(userId: string, load: (userId: string) => Promise<Row | undefined>) {
    const epoch = this.#epoch;
    const readAt = this.#lease === undefined ? 0 : performance.now();
    // Only a read begun under a confirmed lease: a writer that did not count this node yet (it was
    // joining) committed before the registration that started the lease, so before this read.
    const leased = this.#leaseHolds();
    const row = await load(userId);
    // The epoch: a row read before a writer's announcement (or a revocation's) is never kept after it.
    if (row !== undefined && leased && epoch === this.#epoch) {
      const frozen = Object.freeze(row);
      this.#users.set(userId, {
        tokenVersion: Number(row.token_version),
        answer: Promise.resolve(frozen),
        expiresAt: readAt + this.#maxAgeMs,
      });
    }
    return row;
  }

  /** A committed write changed the user's row: this node forgets it, then every other node (Redis). */
  async userChanged(userId: string): Promise<void> {
    this.#epoch++;
    this.#users.delete(userId);
    await this.#inner.userChanged?.(userId);
  }

  /** Forgets what a revocation will change, and keeps reads already under way from filling it back. */
  invalidate(change: RevocationChange): void {
    this.#epoch++;
    if (change.sessionIds === undefined) {
      this.#versions.delete(change.userId);
      // A user-wide change (a bump, or a writer's announcement): the row may change too.
      this.#users.delete(change.userId);
    }
    for (const id of change.sessionIds ?? []) this.#sessions.delete(id);
  }

  /** Forgets everything (an invalidation may have been missed). */
  clear(): void {
    this.#epoch++;
    this.#sessions.clear();
    this.#versions.clear();
    this.#users.clear();
  }

  async beforeRevoke(change: RevocationChange): Promise<number> {
    // The inner state first marks the change in flight (Redis) and has every other node forget it;
    // then this process forgets it too. If the commit's outcome is never learned (a lost
    // acknowledgement), the next request reads past this cache instead of a stale copy.
    const deadline = await this.#inner.beforeRevoke(change);
    this.invalidate(change);
    return deadline;
  }

  async afterRevoke(change: RevocationChange): Promise<void> {
    this.#apply(change);
    try {
      await this.#inner.afterRevoke(change);
    } finally {
      // A read that began meanwhile may have seen the state from before the inner write (with
      // Redis, when Redis lost the in-flight markers) and filled it in: apply the change again.
      this.#apply(change);
    }
  }

  /** The committed change, monotonically: versions only go up, sessions only to revoked. Voids fills in flight. */
  #apply(change: RevocationChange): void {
    this.#epoch++;
    if (change.tokenVersion !== undefined) {
      const cached = this.#versions.get(change.userId);
      // A moved version makes every cached answer of this user's sessions stale (answeredFor differs).
      if (cached !== undefined && cached < change.tokenVersion) this.#versions.set(change.userId, change.tokenVersion);
      // Its row was read at an older version: never answered again (readUser), so drop it now.
      this.#users.delete(change.userId);
    }
    for (const id of change.sessionIds ?? []) {
      const cached = this.#sessions.get(id);
      if (cached !== undefined) {
        cached.revoked = true;
        cached.answeredFor = NOT_ANSWERED;
      }
    }
  }

  ping(): Promise<void> {
    return this.#inner.ping();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

export const DEFAULT_LOCAL_CACHE_ENTRIES = 100_000;
const NOT_ANSWERED = -1;

interface Loading {
  readonly epoch: number;
  readonly userId: string;
  readonly result: Promise<SessionState | undefined>;
}

interface CachedUser {
  /** The row's token_version: it is answered only to a token of that version. */
  readonly tokenVersion: number;
  /** The row, frozen, resolved: a hit allocates nothing. */
  readonly answer: Promise<unknown>;
  /** performance.now() after which the row is read again (with a lease only). */
  readonly expiresAt: number;
}

interface CachedSession {
  readonly userId: string;
  revoked: boolean;
  /** The user version `answer` was built for; NOT_ANSWERED forces a rebuild. */
  answeredFor: number;
  /** The last answer, resolved and frozen, so a hit returns it without allocating. */
  answer: Promise<SessionState> | undefined;
  /** performance.now() after which the entry is read again (with a lease only). */
  readonly expiresAt: number;
}
