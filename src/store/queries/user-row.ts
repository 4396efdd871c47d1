import { CompiledQuery, type Kysely } from "kysely";
import type { Dialect } from "../database.js";
import type { Database } from "../schema.js";
import type { SqliteHandle } from "../sqlite-handle.js";
import type { UserRow } from "./users.js";

/**
 * The user-row read of `GET /profile` (and `auth.getUser()`): one row by primary key on every
 * call, so it skips the query builder, which costs more than the query (docs/benchmark.md): a
 * prepared statement on SQLite, prepared once; on PostgreSQL a named prepared statement when the
 * pool is at hand (parsed and planned once per connection), else a precompiled query through
 * Kysely. No cache: every call reads the database of record, so the answer is as fresh as a
 * query-builder read, on any number of nodes.
 *
 * Only the columns a caller may see: the password hash never leaves the database on this path.
 */
export type PublicUserRow = Pick<
  UserRow,
  | "id"
  | "email"
  | "username"
  | "token_version"
  | "profile"
  | "created_at"
  | "role"
  | "disabled_at"
  | "mfa_enabled_at"
  | "recovery_codes_left"
  | "email_verified_at"
>;

/** The statement, with the dialect's placeholder for the id. Explicit columns: a column added later changes nothing here. */
export const USER_ROW_SQL = (placeholder: string): string =>
  `SELECT id, email, username, token_version, profile, created_at, role, disabled_at, mfa_enabled_at, recovery_codes_left, email_verified_at FROM users WHERE id = ${placeholder}`;

const POSTGRES_USER_ROW_SQL = USER_ROW_SQL("$1");

/** The name of the PostgreSQL prepared statement (one per pooled connection, prepared on first use). */
export const USER_ROW_STATEMENT = "tokenver_user_row";

/** Reads one user's visible columns by id; `undefined` for an unknown id. */
export type UserRowReader = (id: string) => Promise<PublicUserRow | undefined>;

/** The part of pg's Pool this needs: `query({ name, text, values })`. */
export interface NamedQueryPool {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** What a reader is built from: the store (database.ts) or the same handles. */
export interface UserRowSource {
  dialect: Dialect;
  db: Kysely<Database>;
  /** SQLite: the better-sqlite3 handle the store opened. */
  sqlite?: SqliteHandle | undefined;
  /** PostgreSQL: the pool under Kysely, for named prepared statements. */
  pool?: NamedQueryPool | undefined;
}

/** Builds the reader once per store; each call is then one statement execution. */
export function createUserRowReader(source: UserRowSource): UserRowReader {
  const db = source.db;
  const sql = source.dialect === "postgres" ? POSTGRES_USER_ROW_SQL : USER_ROW_SQL("?");
  /** Through Kysely: it waits for a transaction under way on the connection, so it reads only what committed. */
  const throughKysely: UserRowReader = async (id) => (await db.executeQuery<PublicUserRow>(CompiledQuery.raw(sql, [id]))).rows[0];
  if (source.sqlite !== undefined) {
    const sqlite = source.sqlite;
    const statement = sqlite.prepare<[string], PublicUserRow>(USER_ROW_SQL("?"));
    return (id) => {
      // One connection: while a Kysely transaction is open on it (a profile update between its
      // UPDATE and COMMIT), a statement run here would see its uncommitted writes. Then wait for it.
      if (sqlite.inTransaction) return throughKysely(id);
      try {
        return Promise.resolve(statement.get(id));
      } catch (error) {
        return Promise.reject(error);
      }
    };
  }
  if (source.dialect === "postgres" && source.pool !== undefined) {
    const pool = source.pool;
    return async (id) =>
      (await pool.query({ name: USER_ROW_STATEMENT, text: POSTGRES_USER_ROW_SQL, values: [id] })).rows[0] as PublicUserRow | undefined;
  }
  return throughKysely;
}
