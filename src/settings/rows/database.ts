import type { Kysely, PostgresPool } from "kysely";
import type { Setting } from "../table.js";

/**
 * The application's own connection for tokenver's tables (docs/library.md, "An existing
 * database"): a pg `Pool` (`{ pool }`) or a Kysely instance on PostgreSQL or SQLite
 * (`{ kysely }`). tokenver never closes it; `auth.close()` leaves it to the application.
 */
export type DatabaseOption = { pool: PostgresPool } | { kysely: Kysely<any> };

/** Where tokenver's tables are, and on which connection (docs/library.md, "An existing database"). */
export interface DatabaseOptions {
  tablePrefix?: string;
  schema?: string;
  database?: DatabaseOption;
}

export interface ResolvedDatabaseOptions {
  tablePrefix: string;
  schema: string | undefined;
  database: DatabaseOption | undefined;
}

/** The longest prefix: with it, tokenver's longest index name stays within PostgreSQL's 63 bytes. */
export const TABLE_PREFIX_MAX = 20;

const DATABASE_KEYS = "give { pool } (a pg Pool) or { kysely } (a Kysely instance on PostgreSQL or SQLite)";

function databaseEntry(key: string, value: unknown): string | undefined {
  const has = (name: string) => typeof (value as Record<string, unknown> | null)?.[name] === "function";
  if (key === "pool") return has("connect") && has("query") ? undefined : "must be a pg Pool (new pg.Pool(...))";
  if (key === "kysely") return has("getExecutor") && has("withoutPlugins") ? undefined : "must be a Kysely instance";
  return `is not a key of database: ${DATABASE_KEYS}`;
}

/** Settings of tokenver's place in a database it shares with an application. */
export const DATABASE_SETTINGS = [
  {
    // store/table-layout.ts: tables, indexes and the migration tables all get it.
    option: "tablePrefix",
    env: "TOKENVER_TABLE_PREFIX",
    kind: { type: "identifier", maxLength: TABLE_PREFIX_MAX, empty: true },
    default: "",
    defaultText: "none",
    doc: "prefix of every table and index of tokenver's (`auth_`: `auth_users`, `auth_sessions`, ...), for a database shared with an application",
  },
  {
    option: "schema",
    env: "TOKENVER_DATABASE_SCHEMA",
    kind: { type: "identifier", maxLength: 63, refusedPrefix: "pg_" },
    defaultText: "unset: the connection's `search_path` (normally `public`)",
    doc: "PostgreSQL only: the schema of every table of tokenver's, created if missing",
  },
  {
    // Library only: a connection cannot be named in the environment.
    option: "database",
    kind: { type: "object", expected: `must be an object: ${DATABASE_KEYS}`, entry: databaseEntry },
    defaultText: "unset: tokenver opens `databaseUrl`",
    doc: "the application's own connection (`{ pool }` or `{ kysely }`) instead of `databaseUrl`; `auth.close()` leaves it open",
  },
] as const satisfies readonly Setting[];
