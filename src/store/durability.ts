import { sql, SqliteAdapter, type Kysely, type Transaction } from "kysely";

/**
 * A transaction whose commit need not survive a power loss, for writes whose loss fails closed: a
 * new session (its tokens are then refused and the user signs in again) and a batch of security
 * events. On SQLite (WAL) it commits with `synchronous = NORMAL`, without an fsync; the next
 * synced commit (every other write, every revocation) makes it durable with everything before
 * it, and a crash of the process loses nothing either way. Elsewhere a plain transaction.
 *
 * Why: better-sqlite3 commits on the main thread, and an fsync there (0.4 ms median, 2.2 ms p99
 * measured here) delays every request in flight, once per login (docs/benchmark.md, the login
 * storm). The connection is held throughout (Kysely's SQLite driver has one, behind a mutex), so
 * no other write commits while the setting is lowered; the setting is put back after, and a
 * connection the application set to NORMAL or OFF itself is left as it is.
 */
export async function commitWithoutSync<DB, T>(db: Kysely<DB>, write: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) return db.transaction().execute(write);
  return db.connection().execute(async (connection) => {
    const { rows } = await sql<{ synchronous: number }>`pragma synchronous`.execute(connection);
    const level = Number(rows[0]?.synchronous);
    // NORMAL (1) or OFF (0) already: nothing to lower, nothing to put back.
    if (!(level >= 2)) return connection.transaction().execute(write);
    await sql`pragma synchronous = NORMAL`.execute(connection);
    try {
      return await connection.transaction().execute(write);
    } finally {
      await restore(connection, level);
    }
  });
}

/**
 * Puts the setting back. SQLite refuses it only inside a transaction (one a failed COMMIT left
 * open, which Kysely rolls back already): rolled back, then tried again. If it still fails the
 * error reaches the caller (a 503), never a connection left at NORMAL without a word.
 */
async function restore(connection: Kysely<any>, level: number): Promise<void> {
  const put = () => sql.raw(`pragma synchronous = ${level}`).execute(connection);
  try {
    await put();
  } catch {
    await sql`rollback`.execute(connection).catch(() => {});
    await put();
  }
}
