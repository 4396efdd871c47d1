import type { Kysely } from "kysely";
import type SQLite from "better-sqlite3";
import type { Database } from "./schema.js";
import { loadSessionState, type SessionState } from "./sessions.js";

export type { SessionState };

/** What a revoking write changed: the user's new version and/or sessions now revoked. */
export interface RevocationChange {
  userId: string;
  tokenVersion?: number;
  sessionIds?: string[];
}

/**
 * Where the per-request check reads the revocation state. Implementations: the database itself,
 * an in-process write-through cache (exact on one process), Redis shared state (several nodes).
 * Every revoking write calls `beforeRevoke`, commits to the database, then calls `afterRevoke`;
 * an implementation that cannot honour either must throw, so the caller fails closed.
 */
export interface RevocationState {
  /** `userId` is the token's `sub`: a hint that lets a shared store fetch both keys at once. */
  get(sessionId: string, userId: string): Promise<SessionState | undefined>;
  beforeRevoke(change: RevocationChange): Promise<void>;
  afterRevoke(change: RevocationChange): Promise<void>;
  /** Throws when a backing store does not answer (for /health). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Reads straight from the database: exact on any number of nodes, one query per request. */
export class DatabaseRevocationState implements RevocationState {
  readonly #db: Kysely<Database>;
  readonly #statement: SQLite.Statement<[string], { user_id: string; revoked: number; user_version: number }> | undefined;

  constructor(db: Kysely<Database>, sqlite?: SQLite.Database) {
    this.#db = db;
    // On SQLite the hot path uses one prepared statement: the query builder costs more than the query.
    this.#statement = sqlite?.prepare(
      `SELECT s.user_id AS user_id, u.token_version AS user_version,
              (s.revoked_at IS NOT NULL OR s.token_version <> u.token_version) AS revoked
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?`,
    );
  }

  async get(sessionId: string): Promise<SessionState | undefined> {
    if (this.#statement) {
      const row = this.#statement.get(sessionId);
      return row && { userId: row.user_id, tokenVersion: row.user_version, revoked: row.revoked !== 0 };
    }
    return loadSessionState(this.#db, sessionId);
  }

  async beforeRevoke(): Promise<void> {}
  async afterRevoke(): Promise<void> {}
  async ping(): Promise<void> {
    await this.#db.selectFrom("tokenver_meta").select("key").limit(1).execute();
  }
  async close(): Promise<void> {}
}

/**
 * An in-process write-through cache over another state. Exact only when every revoking write goes
 * through this process (the embedded SQLite default), because:
 * - versions only grow and revocations are never undone, so updates are monotonic (max, and true);
 * - a read that started before a revocation never fills the cache after it (the write epoch).
 */
export class LocalRevocationCache implements RevocationState {
  readonly #inner: RevocationState;
  readonly #max: number;
  readonly #sessions = new Map<string, { userId: string; revoked: boolean }>();
  readonly #versions = new Map<string, number>();
  #epoch = 0;

  constructor(inner: RevocationState, maxEntries = 100_000) {
    this.#inner = inner;
    this.#max = maxEntries;
  }

  async get(sessionId: string, userId: string): Promise<SessionState | undefined> {
    const session = this.#sessions.get(sessionId);
    if (session !== undefined) {
      const tokenVersion = this.#versions.get(session.userId);
      if (tokenVersion !== undefined) return { userId: session.userId, tokenVersion, revoked: session.revoked };
    }
    const epoch = this.#epoch;
    const state = await this.#inner.get(sessionId, userId);
    if (state !== undefined && epoch === this.#epoch) {
      bounded(this.#sessions, this.#max).set(sessionId, { userId: state.userId, revoked: state.revoked });
      bounded(this.#versions, this.#max).set(state.userId, state.tokenVersion);
    }
    return state;
  }

  async beforeRevoke(change: RevocationChange): Promise<void> {
    this.#epoch++;
    await this.#inner.beforeRevoke(change);
  }

  async afterRevoke(change: RevocationChange): Promise<void> {
    this.#epoch++;
    if (change.tokenVersion !== undefined) {
      const cached = this.#versions.get(change.userId);
      if (cached !== undefined && cached < change.tokenVersion) this.#versions.set(change.userId, change.tokenVersion);
    }
    for (const id of change.sessionIds ?? []) {
      const cached = this.#sessions.get(id);
      if (cached !== undefined) cached.revoked = true;
    }
    await this.#inner.afterRevoke(change);
  }

  ping(): Promise<void> {
    return this.#inner.ping();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** Evicts the oldest entry when the map is full (insertion order), so memory stays bounded. */
function bounded<K, V>(map: Map<K, V>, max: number): Map<K, V> {
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  return map;
}
