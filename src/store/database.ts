import { mkdirSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import type { Database } from "./schema.js";

export type Dialect = "sqlite" | "postgres";

/** A connected database: the typed Kysely handle plus the driver handle for the hot path. */
export interface Store {
  dialect: Dialect;
  db: Kysely<Database>;
  /** Set for SQLite: prepared statements on the per-request path skip the query builder. */
  sqlite?: SQLite.Database;
  close(): Promise<void>;
}

/** `sqlite:<path>`, `sqlite::memory:` or `postgres://...`: settings.ts has validated the form. */
function parseDatabaseUrl(url: string): { dialect: Dialect; target: string } {
  if (url.startsWith("sqlite:")) return { dialect: "sqlite", target: url.slice("sqlite:".length) };
  return { dialect: "postgres", target: url };
}

/** Another tokenver process holds this SQLite file. */
export class DatabaseInUseError extends Error {}

/**
 * Opens the database. `exclusive` (SQLite files only) takes a lock that a second tokenver process
 * on the same file cannot get, so it fails at start-up rather than serve from a revocation cache
 * that would never see the first one's revocations. Other readers (the sqlite3 shell, backups)
 * are not affected: the lock is on a file of its own, `<file>.lock`.
 */
export async function openStore(url: string, options: { exclusive?: boolean } = {}): Promise<Store> {
  const { dialect, target } = parseDatabaseUrl(url);
  if (dialect === "sqlite") return openSqlite(target, options.exclusive ?? false);
  return openPostgres(target);
}

/** The file's real path (symlinks resolved); for a file not created yet, its directory's. */
function realPathOf(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return join(realpathSync(dirname(file)), basename(file));
  }
}

function lockFile(file: string): SQLite.Database {
  const lock = new SQLite(`${file}.lock`, { timeout: 0 });
  try {
    lock.pragma("journal_mode = OFF");
    // EXCLUSIVE locking mode keeps the lock from the first write until the connection closes;
    // the operating system releases it when the process dies, even by kill -9.
    lock.pragma("locking_mode = EXCLUSIVE");
    lock.exec("BEGIN EXCLUSIVE; COMMIT;");
    return lock;
  } catch (error) {
    lock.close();
    throw new DatabaseInUseError("another tokenver process serves this SQLite file", { cause: error });
  }
}

function openSqlite(target: string, exclusive: boolean): Store {
  const file = target === ":memory:" ? ":memory:" : resolve(target);
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  // The lock is named after the real file, so a symlink or another spelling cannot dodge it.
  const lock = exclusive && file !== ":memory:" ? lockFile(realPathOf(file)) : undefined;
  const sqlite = new SQLite(file);
  sqlite.pragma("journal_mode = WAL");
  // FULL: a revocation that returned survives a crash or power loss, not only a process kill.
  sqlite.pragma("synchronous = FULL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return {
    dialect: "sqlite",
    db,
    sqlite,
    close: async () => {
      await db.destroy();
      lock?.close();
    },
  };
}

async function openPostgres(connectionString: string): Promise<Store> {
  const pool = new pg.Pool({
    connectionString,
    max: 10,
    connectionTimeoutMillis: 3000,
    // A hung statement must not hold a revocation (or a request) forever, nor a COMMIT held up on
    // the network land after the revocation's Redis marker has expired (redis.ts).
    statement_timeout: 10_000,
    idle_in_transaction_session_timeout: 10_000,
  });
  // A connection lost while idle or checked out (server restart, network cut) must not crash the
  // process with an unhandled 'error' event; the query in progress, or the next one, reports it.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { dialect: "postgres", db, close: () => db.destroy() };
}

/** True when the error is a unique-constraint violation, in either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "23505";
}
