import { CompiledQuery, type Kysely } from "kysely";
import type { Database } from "../schema.js";
import type { SqliteHandle, SqliteStatement } from "../sqlite-handle.js";
import type { RevocationState, SessionState } from "./state.js";

/** The per-request question, in one statement: whose session is it, the user's version, and is it dead. */
const SESSION_STATE_SQL = (placeholder: string) =>
  `SELECT s.user_id AS user_id, u.token_version AS user_version,
          (s.revoked_at IS NOT NULL OR s.token_version <> u.token_version) AS revoked
     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ${placeholder}`;

const POSTGRES_SESSION_STATE_SQL = SESSION_STATE_SQL("$1");

interface SessionStateRow {
  user_id: string;
  user_version: number;
  /** 0/1 on SQLite, a boolean on PostgreSQL. */
  revoked: number | boolean;
}

function toSessionState(row: SessionStateRow | undefined): SessionState | undefined {
  return row && { userId: row.user_id, tokenVersion: Number(row.user_version), revoked: row.revoked !== 0 && row.revoked !== false };
}

/**
 * Reads straight from the database: exact on any number of nodes, one query per request. The
 * query builder is skipped on this path (it costs more than the query): a prepared statement on
 * SQLite, a precompiled query on PostgreSQL (the two dialects tokenver runs on).
 */
export class DatabaseRevocationState implements RevocationState {
  readonly #db: Kysely<Database>;
  readonly #sqlite: SqliteHandle | undefined;
  readonly #statement: SqliteStatement<[string], SessionStateRow> | undefined;
  readonly #sql: string;

  constructor(db: Kysely<Database>, sqlite?: SqliteHandle) {
    this.#db = db;
    this.#sqlite = sqlite;
    this.#statement = sqlite?.prepare(SESSION_STATE_SQL("?"));
    this.#sql = sqlite === undefined ? POSTGRES_SESSION_STATE_SQL : SESSION_STATE_SQL("?");
  }

  async get(sessionId: string): Promise<SessionState | undefined> {
    // SQLite has one connection: while a Kysely transaction is open on it (a revocation between its
    // write and COMMIT), the prepared statement would read its uncommitted rows, and a node cache
    // could keep a version that then rolls back. Kysely waits for the transaction to end.
    if (this.#statement !== undefined && !this.#sqlite!.inTransaction) return toSessionState(this.#statement.get(sessionId));
    const result = await this.#db.executeQuery<SessionStateRow>(CompiledQuery.raw(this.#sql, [sessionId]));
    return toSessionState(result.rows[0]);
  }

  async beforeRevoke(): Promise<number> {
    return Infinity;
  }
  async afterRevoke(): Promise<void> {}
  async ping(): Promise<void> {
    await this.#db.selectFrom("tokenver_meta").select("key").limit(1).execute();
  }
  async close(): Promise<void> {}
}
