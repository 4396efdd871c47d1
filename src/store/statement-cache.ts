import type { SqliteDatabase, SqliteStatement } from "kysely";
import { BoundedMap } from "../lib/bounded-map.js";

/** Distinct SQL texts kept prepared per connection: tokenver issues a few dozen; lists of `in (?, ?)` vary. */
export const STATEMENT_CACHE_SIZE = 500;

/** A better-sqlite3 statement: `busy` while an iteration over its rows has not ended. */
type KeptStatement = SqliteStatement & { readonly busy: boolean };

/** A better-sqlite3 connection, as far as Kysely and the cache use it. */
export interface StatementSource {
  prepare(sql: string): KeptStatement;
  close(): void;
}

/**
 * The connection as Kysely's SQLite dialect sees it, with its statements kept prepared by SQL
 * text. Kysely prepares every query anew, and on the main thread that costs about as much as
 * running it (40 to 90 µs for a login's inserts, docs/benchmark.md, "The login storm"): a login
 * prepared eleven statements. SQLite re-prepares a kept statement by itself when the schema has
 * changed, so a migration cannot leave one stale. A statement still iterating (`busy`, a stream
 * that has not ended) is never handed out twice: that call prepares a fresh one.
 *
 * Only for the stores tokenver opens: an application's own Kysely instance keeps its driver.
 */
export function withStatementCache(database: StatementSource, size = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const statements = new BoundedMap<string, KeptStatement>(size);
  return {
    prepare(sql) {
      const kept = statements.get(sql);
      if (kept !== undefined && !kept.busy) return kept;
      const statement = database.prepare(sql);
      if (kept === undefined) statements.set(sql, statement);
      return statement;
    },
    close() {
      statements.clear();
      database.close();
    },
  };
}
