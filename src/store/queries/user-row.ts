import { createHash } from "node:crypto";
import type { CompiledQuery, Kysely } from "kysely";
import type { Dialect } from "../database.js";
import { PG_TYPES } from "../pg-types.js";
import type { Database } from "../schema.js";
import type { SqliteHandle } from "../sqlite-handle.js";
import type { UserRow } from "./users.js";

/**
 * The user-row read of `GET /profile` (and `auth.getUser()`): one row by primary key on every
 * call, so it skips the query builder, which costs more than the query (docs/benchmark.md): a
 * prepared statement on SQLite, prepared once; on PostgreSQL a named prepared statement when the
 * pool is at hand (parsed and planned once per connection), else a precompiled query through
 * Kysely. Each call reads the database of record; the node's user-row cache sits in front of it
 * (LocalRevocationCache.readUser, kept exact by the revocation protocol: docs/scale-out.md).
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

/** The visible columns (the user-row read, the admin list). Explicit: a column added later changes nothing here. */
export const PUBLIC_COLUMNS = [
  "id",
  "email",
  "username",
  "token_version",
  "profile",
  "created_at",
  "role",
  "disabled_at",
  "mfa_enabled_at",
  "recovery_codes_left",
  "email_verified_at",
] as const satisfies readonly (keyof PublicUserRow)[];

/** The statement as text, for the benchmarks' own prepared statements (default table names). */
export const USER_ROW_SQL = (placeholder: string): string => `SELECT ${PUBLIC_COLUMNS.join(", ")} FROM users WHERE id = ${placeholder}`;

/**
 * The name of the PostgreSQL prepared statement (one per pooled connection, prepared on first
 * use), for the default table names; with a prefix or schema it ends with a hash of its text.
 */
export const USER_ROW_STATEMENT = "tokenver_user_row";

/**
 * The statement, compiled once through `db`'s query builder and plugins (so with the tables where
 * the store's layout puts them, store/table-layout.ts), with the dialect's placeholder for the id.
 */
function compileUserRow(db: Kysely<Database>): CompiledQuery<PublicUserRow> {
  return db.selectFrom("users").select(PUBLIC_COLUMNS).where("id", "=", "").compile();
}

/**
 * A named statement's name is the connection's key for its text: a statement of another text
 * (another prefix or schema, through one pool) must have another name.
 */
export function statementName(base: string, text: string, defaultText: string): string {
  return text === defaultText ? base : `${base}_${createHash("sha256").update(text).digest("hex").slice(0, 12)}`;
}

/** Reads one user's visible columns by id; `undefined` for an unknown id. */
export type UserRowReader = (id: string) => Promise<PublicUserRow | undefined>;

/**
 * The part of pg's Pool this needs: `query({ name, text, values, types })`. `types` (pg's
 * CustomTypesConfig) reads timestamptz and jsonb as tokenver's strings on this query only, also on
 * an application's pool (store/pg-types.ts).
 */
export interface NamedQueryPool {
  query(config: { name: string; text: string; values: unknown[]; types?: unknown }): Promise<{ rows: unknown[] }>;
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
  const compiled = compileUserRow(db);
  const sql = compiled.sql;
  /** Through Kysely: it waits for a transaction under way on the connection, so it reads only what committed. */
  const throughKysely: UserRowReader = async (id) => (await db.executeQuery<PublicUserRow>({ ...compiled, parameters: [id] })).rows[0];
  if (source.sqlite !== undefined) {
    const sqlite = source.sqlite;
    const statement = sqlite.prepare<[string], PublicUserRow>(sql);
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
    const name = statementName(USER_ROW_STATEMENT, sql, compileUserRow(db.withoutPlugins()).sql);
    return async (id) => (await pool.query({ name, text: sql, values: [id], types: PG_TYPES })).rows[0] as PublicUserRow | undefined;
  }
  return throughKysely;
}
