/** What an access token of this session is checked against; undefined when the session is unknown. */
export interface SessionState {
  userId: string;
  /** The user's current token_version. */
  tokenVersion: number;
  /** Explicitly revoked, or left behind by a version bump. */
  revoked: boolean;
}

/** What a revoking write changed: the user's new version and/or sessions now revoked. */
export interface RevocationChange {
  userId: string;
  tokenVersion?: number;
  sessionIds?: string[];
}

/**
 * Where the per-request check reads the revocation state. Implementations: the database itself,
 * an in-process write-through cache (exact on one process), Redis shared state (several nodes).
 * Every revoking write calls `beforeRevoke`, commits to the database before the deadline it
 * returned (or not at all), then calls `afterRevoke`; an implementation that cannot honour either
 * must throw, so the caller fails closed.
 */
export interface RevocationState {
  /** `userId` is the token's `sub`: a hint that lets a shared store fetch both keys at once. */
  get(sessionId: string, userId: string): Promise<SessionState | undefined>;
  /**
   * For a cache on top: the state, and whether the cache may keep it. Implementations without it
   * are always cacheable (the database itself).
   */
  read?(sessionId: string, userId: string): Promise<{ state: SessionState | undefined; cacheable: boolean }>;
  /** Resolves to the performance.now() by which the write must commit (Infinity: no limit). */
  beforeRevoke(change: RevocationChange): Promise<number>;
  afterRevoke(change: RevocationChange): Promise<void>;
  /**
   * After a committed write that changed what a user's row shows but not its token_version (a
   * profile, a role, a verified address, the second factor): every node that keeps user rows
   * forgets this user's before it resolves. It may throw; the Revoker swallows it (the write has
   * committed) and a node may show the old row for one entry lifetime. Absent: the state keeps no
   * user rows and tells no node that does.
   */
  userChanged?(userId: string): Promise<void>;
  /** Throws when a backing store does not answer (for /health). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The user-row cache of a node (LocalRevocationCache): kept exact by the same invalidations. */
export interface UserRowCache {
  /**
   * The user's row, from memory when this node holds one read at `tokenVersion` (the version the
   * caller's token was just verified against), else `load`ed and kept. `undefined`: no such user.
   */
  readUser<Row extends { token_version: number }>(
    userId: string,
    tokenVersion: number,
    load: (userId: string) => Promise<Row | undefined>,
  ): Promise<Row | undefined>;
}

/** No cache: every read goes to the database (no local cache, or a custom revocation state). */
export const READ_THROUGH: UserRowCache = { readUser: (userId, _tokenVersion, load) => load(userId) };

/**
 * Until when (performance.now() milliseconds) a cache may answer from memory: the node's lease in
 * the cross-node invalidation protocol (redis-invalidation.ts).
 */
export interface CacheLease {
  readonly validUntil: number;
  /** The same deadline on the wall clock (Date.now()), which keeps running while the host sleeps. */
  readonly wallValidUntil: number;
}
