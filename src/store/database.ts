import { mkdirSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type SQLite from "better-sqlite3";
import {
  Kysely,
  PostgresAdapter,
  PostgresDialect,
  SqliteAdapter,
  SqliteDialect,
  sql,
  type DialectAdapter,
  type PostgresPool,
} from "kysely";
import pg from "pg";
import type { Database } from "./schema.js";
import type { SqliteHandle } from "./sqlite-handle.js";
import { SqliteCheckpointer } from "./sqlite-checkpointer.js";
import { withStatementCache, type StatementSource } from "./statement-cache.js";
import type { NamedQueryPool } from "./queries/user-row.js";
import { DEFAULT_LAYOUT, withLayout, type TableLayout } from "./table-layout.js";
import { checkResultTypes, PG_TYPES, PgResultPlugin, withPgTypes } from "./pg-types.js";

export type Dialect = "sqlite" | "postgres";

/** A connected database: the typed Kysely handle plus the driver handle for the hot path. */
export interface Store {
  dialect: Dialect;
  db: Kysely<Database>;
  /** Set for SQLite: prepared statements on the per-request path skip the query builder. */
  sqlite?: SqliteHandle;
  /**
   * SQLite files: whether this process holds the file's lock (`exclusive`), i.e. is the server.
   * Other processes may write beside it (store/revocation/external-writes.ts).
   */
  exclusive?: boolean;
  /** The thread that checkpoints the file this process serves (`exclusive` only: sqlite-checkpointer.ts). */
  checkpointer?: SqliteCheckpointer;
  /**
   * Set for PostgreSQL: the pool under Kysely, for named prepared statements on the per-request
   * path (typed by what they need, so the public types need no `@types/pg`).
   */
  pool?: NamedQueryPool;
  /** Where tokenver's tables are (a prefix, a PostgreSQL schema); `db` already puts them there. */
  layout: TableLayout;
  /**
   * False when the connection is the application's (`createAuth({ database })`): `close()` then
   * leaves it open, and on SQLite no lock tells this process of other processes' writes.
   */
  owned: boolean;
  close(): Promise<void>;
}

/** `sqlite:<path>`, `sqlite::memory:` or `postgres://...`: settings.ts has validated the form. */
function parseDatabaseUrl(url: string): { dialect: Dialect; target: string } {
  if (url.startsWith("sqlite:")) return { dialect: "sqlite", target: url.slice("sqlite:".length) };
  return { dialect: "postgres", target: url };
}

/**
 * This SQLite file cannot be served by this process: another tokenver process holds it, or it has
 * several names. The message completes "databaseUrl ...".
 */
export class DatabaseInUseError extends Error {}

const IN_USE = "is in use by another tokenver process: SQLite serves one process; use PostgreSQL for several";

/**
 * Opens the database. `exclusive` (SQLite files only) takes a lock that a second tokenver process
 * on the same file cannot get, so it fails at start-up rather than serve from a revocation cache
 * that would never see the first one's revocations. Other readers (the sqlite3 shell, backups)
 * are not affected: the locks are on files of their own (see lockSqliteFile()).
 */
export async function openStore(
  url: string,
  options: { exclusive?: boolean; layout?: TableLayout; onWarning?: (message: string) => void } = {},
): Promise<Store> {
  const { dialect, target } = parseDatabaseUrl(url);
  const layout = options.layout ?? DEFAULT_LAYOUT;
  if (dialect === "sqlite") return openSqlite(target, options.exclusive ?? false, layout, options.onWarning);
  return withCheckedTypes(await openPostgres(target, layout));
}

/**
 * tokenver compares the instants it reads as ISO strings: a PostgreSQL connection that writes them
 * otherwise (DateStyle) is refused when the store opens, not found out by a request
 * (store/pg-types.ts). An application's Kysely instance is checked the same way when adopted.
 */
async function withCheckedTypes(store: Store): Promise<Store> {
  let problem: string | undefined;
  try {
    problem = await checkResultTypes(store.db);
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  if (problem === undefined) return store;
  await store.close().catch(() => {});
  throw new OwnDatabaseError(
    `is a PostgreSQL connection that ${problem}: set DateStyle to ISO (PostgreSQL's default) for tokenver's role or database`,
  );
}

/**
 * The application's own connection (`createAuth({ database })`): a pg `Pool`, or a Kysely instance
 * on PostgreSQL or SQLite. tokenver runs its queries on it (on a Kysely instance, without the
 * application's plugins: a CamelCasePlugin would rename tokenver's columns) and never closes it.
 */
export type OwnDatabase = { pool: PostgresPool } | { kysely: Kysely<any> };

/** The application's connection is not one tokenver can use. The message completes "database ...". */
export class OwnDatabaseError extends Error {}

export async function useOwnDatabase(database: OwnDatabase, layout: TableLayout = DEFAULT_LAYOUT): Promise<Store> {
  if ("pool" in database) {
    // No destroy() on close: Kysely's would end the application's pool. tokenver's queries carry
    // their own type parsers (store/pg-types.ts); the pool and pg's global parsers are untouched.
    const pool = database.pool as unknown as NamedQueryPool;
    const db = withLayout(new Kysely<Database>({ dialect: new PostgresDialect({ pool: withPgTypes(database.pool) }) }), layout);
    return withCheckedTypes({ dialect: "postgres", db, pool, layout, owned: false, close: async () => {} });
  }
  const kysely = database.kysely;
  const dialect = dialectOfAdapter(kysely.getExecutor().adapter);
  if (dialect === undefined) {
    throw new OwnDatabaseError("must be a Kysely instance on PostgreSQL (PostgresDialect) or SQLite (SqliteDialect)");
  }
  if (dialect === "postgres") {
    // Its pool is out of reach: timestamptz and jsonb come back through pg's parsers (a Date, an
    // object) and are converted back; refused when that cannot be exact (store/pg-types.ts).
    const db = withLayout(kysely.withoutPlugins().withPlugin(new PgResultPlugin()) as Kysely<Database>, layout);
    const problem = await checkResultTypes(db);
    if (problem !== undefined) {
      throw new OwnDatabaseError(
        `is a Kysely instance whose pg driver ${problem}: tokenver needs pg's default parsers for timestamptz (OID 1184) and jsonb (OID 3802) there; or pass the pg Pool instead ({ pool }), whose queries tokenver types itself`,
      );
    }
    return { dialect, db, layout, owned: false, close: async () => {} };
  }
  const db = withLayout(kysely.withoutPlugins() as Kysely<Database>, layout);
  // A user's sessions, tokens and codes go with the user by ON DELETE CASCADE: SQLite enforces
  // it only on connections that turned foreign keys on. Not turned on here: it is the
  // application's connection, and the pragma does nothing inside a transaction anyway.
  const row = (await sql<{ foreign_keys: number }>`PRAGMA foreign_keys`.execute(db)).rows[0];
  if (Number(row?.foreign_keys) !== 1) {
    throw new OwnDatabaseError(
      "is a SQLite connection with foreign keys off: run PRAGMA foreign_keys = ON on it when it opens (tokenver deletes a user's sessions by cascade)",
    );
  }
  return { dialect, db, layout, owned: false, close: async () => {} };
}

/** The dialect of a Kysely adapter, also from another copy of Kysely (the application's): by class name. */
export function dialectOfAdapter(adapter: DialectAdapter): Dialect | undefined {
  if (adapter instanceof PostgresAdapter) return "postgres";
  if (adapter instanceof SqliteAdapter) return "sqlite";
  for (let proto = Object.getPrototypeOf(adapter); proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    if (name === "PostgresAdapter") return "postgres";
    if (name === "SqliteAdapter") return "sqlite";
  }
  return undefined;
}

/** The file's real path (symlinks resolved); for a file not created yet, its directory's. */
function realPathOf(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return join(realpathSync(dirname(file)), basename(file));
  }
}

type SqliteBinding = typeof SQLite;

/**
 * better-sqlite3, loaded on the first SQLite URL: it is an optional dependency (a native binding),
 * so an application on PostgreSQL may install without it.
 */
async function loadSqlite(): Promise<SqliteBinding> {
  try {
    return (await import("better-sqlite3")).default;
  } catch (error) {
    throw new DatabaseDriverMissingError(
      "is a SQLite URL, but the better-sqlite3 package (an optional dependency of tokenver) is not installed: npm install better-sqlite3",
      { cause: error },
    );
  }
}

/** The driver a URL needs is not installed. The message completes "databaseUrl ...". */
export class DatabaseDriverMissingError extends Error {}

function lockFile(SQLite: SqliteBinding, file: string): SQLite.Database {
  const lock = new SQLite(file, { timeout: 0 });
  try {
    lock.pragma("journal_mode = OFF");
    // EXCLUSIVE locking mode keeps the lock from the first write until the connection closes;
    // the operating system releases it when the process dies, even by kill -9.
    lock.pragma("locking_mode = EXCLUSIVE");
    lock.exec("BEGIN EXCLUSIVE; COMMIT;");
    return lock;
  } catch (error) {
    lock.close();
    throw new DatabaseInUseError(IN_USE, { cause: error });
  }
}

/**
 * The locks that make a SQLite file this process's alone, held until close. A file is one inode,
 * whatever its names; SQLite keeps the write-ahead log and its index by name (`<name>-wal`,
 * `<name>-shm`), so two processes on two names of one file would not even share a WAL. Three
 * layers, because Node offers no lock on the database file itself (no flock/fcntl; SQLite's own
 * locks on it are the ones the shell and backups share, so taking one would shut them out):
 *
 * 1. `<real path>.lock`: by name, symlinks resolved. Taken before the file is opened, so two
 *    processes creating a new file race on it; it is also the lock earlier versions took.
 * 2. `tokenver-<dev>-<ino>.lock` in the file's real directory: by identity (device and inode),
 *    so a hard link in the same directory, or the file renamed while served, meets the same lock.
 *    The directory is the database's own, where only those who may write the database can write:
 *    not the temporary directory, which is cleaned, private per service or container, and open
 *    to any local user who could squat the name.
 * 3. The file must have one name (st_nlink 1). A hard link in another directory could have no
 *    lock place in common with this one, so a file with several links is refused outright (it
 *    is also what SQLite's own documentation lists as a way to corrupt a database).
 */
function lockSqliteFile(
  SQLite: SqliteBinding,
  file: string,
  open: () => SQLite.Database,
): { sqlite: SQLite.Database; locks: SQLite.Database[] } {
  const real = realPathOf(file);
  const locks = [lockFile(SQLite, `${real}.lock`)];
  let sqlite: SQLite.Database | undefined;
  try {
    // Opening reads nothing yet (no -wal or -shm file appears); it creates a missing file, so
    // that it has an inode to lock.
    sqlite = open();
    const { dev, ino, nlink } = statSync(real, { bigint: true });
    locks.push(lockFile(SQLite, join(dirname(real), `tokenver-${dev}-${ino}.lock`)));
    if (nlink > 1n) {
      throw new DatabaseInUseError(
        `has ${nlink} hard links: SQLite keeps its journal by name, so a second name would be a second database to it; remove the other links`,
      );
    }
    return { sqlite, locks };
  } catch (error) {
    sqlite?.close();
    for (const lock of locks) lock.close();
    throw error;
  }
}

async function openSqlite(target: string, exclusive: boolean, layout: TableLayout, onWarning?: (message: string) => void): Promise<Store> {
  const SQLite = await loadSqlite();
  const file = target === ":memory:" ? ":memory:" : resolve(target);
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const { sqlite, locks } =
    exclusive && file !== ":memory:" ? lockSqliteFile(SQLite, file, () => new SQLite(file)) : { sqlite: new SQLite(file), locks: [] };
  try {
    sqlite.pragma("journal_mode = WAL");
    // FULL: a revocation that returned survives a crash or power loss, not only a process kill.
    sqlite.pragma("synchronous = FULL");
    sqlite.pragma("foreign_keys = ON");
    sqlite.pragma("busy_timeout = 5000");
  } catch (error) {
    // Not a database, or not readable: nothing stays open or locked.
    sqlite.close();
    for (const lock of locks) lock.close();
    throw error;
  }
  // better-sqlite3's conditional generic `prepare` signature is what the structural check cannot follow.
  const base = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite as unknown as StatementSource) }) });
  const db = withLayout(base, layout);
  // The server's own file: its checkpoints off the main thread. A command beside it keeps SQLite's.
  const holdsLock = locks.length > 0;
  const checkpointer = holdsLock ? SqliteCheckpointer.start(sqlite as unknown as SqliteHandle, file, onWarning) : undefined;
  return {
    dialect: "sqlite",
    db,
    layout,
    owned: true,
    // better-sqlite3's Database has every member of SqliteHandle; its conditional generic
    // `prepare` signature is what the structural check cannot follow.
    sqlite: sqlite as unknown as SqliteHandle,
    exclusive: holdsLock,
    checkpointer,
    close: async () => {
      await checkpointer?.stop();
      await base.destroy();
      // Kysely's driver takes the connection on first use and closes only what it took: a store
      // that ran nothing through Kysely closes its connection here.
      if (sqlite.open) sqlite.close();
      for (const lock of locks) lock.close();
    },
  };
}

async function openPostgres(connectionString: string, layout: TableLayout): Promise<Store> {
  const pool = new pg.Pool({
    connectionString,
    max: 10,
    connectionTimeoutMillis: 3000,
    // A hung statement must not hold a revocation (or a request) forever, nor a COMMIT held up on
    // the network land after the revocation's Redis marker has expired (redis.ts).
    statement_timeout: 10_000,
    idle_in_transaction_session_timeout: 10_000,
    // timestamptz and jsonb as the text tokenver reads (store/pg-types.ts), on this pool only.
    types: PG_TYPES,
  });
  // A connection lost while idle or checked out (server restart, network cut) must not crash the
  // process with an unhandled 'error' event; the query in progress, or the next one, reports it.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  const base = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { dialect: "postgres", db: withLayout(base, layout), pool, layout, owned: true, close: () => base.destroy() };
}

/** True when the error is a foreign-key violation, in either dialect: the row it names (a user) is gone. */
export function isForeignKeyViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "SQLITE_CONSTRAINT_FOREIGNKEY" || code === "23503";
}

/** True when the error is a unique-constraint violation, in either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "23505";
}
