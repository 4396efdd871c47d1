import type { CompiledQuery, Kysely } from "kysely";
import type { Database } from "../schema.js";
import type { SqliteHandle, SqliteStatement } from "../sqlite-handle.js";
import type { RevocationState, SessionState } from "./state.js";

/**
 * The per-request question, in one statement: whose session is it, the user's version, and is it
 * dead. Compiled once through `db`'s query builder and plugins, so with the tables where the
 * store's layout puts them (store/table-layout.ts) and the dialect's placeholder.
 */
function compileSessionState(db: Kysely<Database>): CompiledQuery<SessionStateRow> {
  return db
    .selectFrom("sessions as s")
    .innerJoin("users as u", "u.id", "s.user_id")
    .select((eb) => [
      "s.user_id as user_id",
      "u.token_version as user_version",
      eb.or([eb("s.revoked_at", "is not", null), eb("s.token_version", "<>", eb.ref("u.token_version"))]).as("revoked"),
    ])
    .where("s.id", "=", "")
    .compile() as CompiledQuery<SessionStateRow>;
}

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
 * query builder is skipped on each request (it costs more than the query): a prepared statement
 * on SQLite, a query compiled once on PostgreSQL (the two dialects tokenver runs on) and on a
 * SQLite connection of the application's (no better-sqlite3 handle).
 */
export class DatabaseRevocationState implements RevocationState {
  readonly #db: Kysely<Database>;
  readonly #sqlite: SqliteHandle | undefined;
  readonly #statement: SqliteStatement<[string], SessionStateRow> | undefined;
  readonly #compiled: CompiledQuery<SessionStateRow>;

  constructor(db: Kysely<Database>, sqlite?: SqliteHandle) {
    this.#db = db;
    this.#sqlite = sqlite;
    this.#compiled = compileSessionState(db);
    this.#statement = sqlite?.prepare(this.#compiled.sql);
  }

  async get(sessionId: string): Promise<SessionState | undefined> {
    // SQLite has one connection: while a Kysely transaction is open on it (a revocation between its
    // write and COMMIT), the prepared statement would read its uncommitted rows, and a node cache
    // could keep a version that then rolls back. Kysely waits for the transaction to end.
    if (this.#statement !== undefined && !this.#sqlite!.inTransaction) return toSessionState(this.#statement.get(sessionId));
    const result = await this.#db.executeQuery<SessionStateRow>({ ...this.#compiled, parameters: [sessionId] });
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
