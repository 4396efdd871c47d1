import { setTimeout as sleep } from "node:timers/promises";
import type { SqliteHandle, SqliteStatement } from "../sqlite-handle.js";
import type { RevocationChange, RevocationState } from "./state.js";

/**
 * How often, at most, a SQLite server asks whether another process has committed to its file
 * (milliseconds), and so how long a process that revokes beside it (the `tokenver users` and
 * `tokenver keys` commands, a script with `sqliteLock: false`) waits after its commit before it
 * returns. See docs/operations.md, "Commands beside a running SQLite server".
 */
export const EXTERNAL_WRITE_CHECK_MS = 20;
/** Added to the wait: timer granularity, nothing else. Both sides read the same monotonic clock. */
const SETTLE_MARGIN_MS = 5;

/**
 * Notices commits that other processes make to this SQLite file, so that what this process keeps
 * in memory (the revocation cache; the signing keys) is dropped before it can answer from a copy
 * older than a revocation another process committed.
 *
 * `PRAGMA data_version` changes when another connection has committed; it costs a read
 * transaction (microseconds), several times a whole cached `verify`, so it is asked at most once
 * per `EXTERNAL_WRITE_CHECK_MS`. That is exact because every process that revokes beside the
 * server waits that long after its commit before it returns (`SettlingRevocationState`):
 * a request that arrives after the command has exited finds the last check older than the
 * interval (and checks now), or a check that began after the commit (and saw it). Both measure
 * on the operating system's monotonic clock (`performance.now()`), the same for every process.
 */
export class ExternalWrites {
  readonly #sqlite: SqliteHandle;
  readonly #statement: SqliteStatement<[], { data_version: number }>;
  readonly #intervalMs: number;
  readonly #listeners: Array<() => void> = [];
  #version: number;
  /** When the last successful check began (its pragma ran after this instant). */
  #checkedAt = -Infinity;

  constructor(sqlite: SqliteHandle, intervalMs = EXTERNAL_WRITE_CHECK_MS) {
    this.#sqlite = sqlite;
    this.#statement = sqlite.prepare<[], { data_version: number }>("PRAGMA data_version");
    this.#intervalMs = intervalMs;
    this.#version = this.#statement.get()!.data_version;
  }

  /** `listener` runs (synchronously, inside `check()`) when another process has committed. */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Call before answering from memory: whether memory may answer. Throws when the database cannot
   * be read (the caller fails closed); the next call then checks again.
   *
   * `false`, without a check, while a transaction is open on the connection (another request's,
   * between two of its statements). The pragma would run inside it, where commits of other
   * processes after its snapshot do not show, and it would give a transaction that has not read
   * yet a snapshot, so its first write would fail (SQLITE_BUSY_SNAPSHOT) instead of waiting. The
   * caller reads through the database (which waits for that transaction) and the next call checks.
   */
  check(): boolean {
    if (this.#sqlite.inTransaction) return false;
    const now = performance.now();
    if (now - this.#checkedAt < this.#intervalMs) return true;
    const version = this.#statement.get()!.data_version;
    this.#checkedAt = now;
    if (version === this.#version) return true;
    this.#version = version;
    for (const listener of this.#listeners) listener();
    return true;
  }
}

/**
 * The revocation state of a process that writes beside a running SQLite server (its file is
 * locked to that server: this process does not cache). Each revocation returns only after the
 * server's next check is due, so once the command has exited the server refuses what it revoked.
 */
export class SettlingRevocationState implements RevocationState {
  readonly #inner: RevocationState;
  readonly #waitMs: number;

  constructor(inner: RevocationState, intervalMs = EXTERNAL_WRITE_CHECK_MS) {
    this.#inner = inner;
    this.#waitMs = intervalMs + SETTLE_MARGIN_MS;
  }

  get(sessionId: string, userId: string) {
    return this.#inner.get(sessionId, userId);
  }
  beforeRevoke(change: RevocationChange): Promise<number> {
    return this.#inner.beforeRevoke(change);
  }
  /** Called after the commit: waits one check interval (and a margin) from now. */
  async afterRevoke(change: RevocationChange): Promise<void> {
    await this.#inner.afterRevoke(change);
    await sleep(this.#waitMs);
  }
  /** As a revocation: returns once the server's next check (which drops every row it keeps) is due. */
  async userChanged(userId: string): Promise<void> {
    await this.#inner.userChanged?.(userId);
    await sleep(this.#waitMs);
  }
  ping(): Promise<void> {
    return this.#inner.ping();
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** For other writers beside a server (e.g. `tokenver keys revoke`): wait after a commit the server must see. */
export function settleExternalWrite(intervalMs = EXTERNAL_WRITE_CHECK_MS): Promise<void> {
  return sleep(intervalMs + SETTLE_MARGIN_MS).then(() => undefined);
}
