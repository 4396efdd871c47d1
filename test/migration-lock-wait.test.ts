// A node that starts while another holds the migration lock (a long migration: 0013 rewrites
// tables) waits for it, past the pool's statement timeout, instead of failing its start; and the
// lock it waits on is the one Kysely's migrator takes. PostgreSQL only (SQLite's file lock is the
// store's own: store/database.ts).
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { KYSELY_MIGRATION_LOCK_ID, migrateToLatest } from "../src/store/migrations/index.js";
import { createTestDatabase, dialects } from "./support/databases.js";

/** The pool's limit per statement here; the store's own is 10 s (store/database.ts). */
const STATEMENT_TIMEOUT_MS = 500;

if (dialects().includes("postgres")) {
  describe("the migration lock (postgres)", () => {
    test("a migration waits for another node's, however long it runs, then finds nothing to do", async () => {
      const database = await createTestDatabase("postgres");
      const holder = new pg.Client({ connectionString: database.url });
      await holder.connect();
      const pool = new pg.Pool({ connectionString: database.url, statement_timeout: STATEMENT_TIMEOUT_MS });
      const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
      try {
        // Another node, mid-migration: it holds Kysely's lock for four statement timeouts.
        await holder.query(`select pg_advisory_lock(${KYSELY_MIGRATION_LOCK_ID})`);
        let settled = false;
        const migration = migrateToLatest(db).finally(() => (settled = true));
        await sleep(STATEMENT_TIMEOUT_MS * 4);
        assert.equal(settled, false, "the migration went ahead while another held the lock");
        await holder.query(`select pg_advisory_unlock(${KYSELY_MIGRATION_LOCK_ID})`);
        const applied = await migration;
        assert.ok(applied.includes("0001_initial") && applied.includes("0013_native_types"), applied.join(", "));
        // A second node after it: nothing left, nothing to wait for.
        assert.deepEqual(await migrateToLatest(db), []);
      } finally {
        await holder.end();
        await db.destroy();
        await database.drop();
      }
    });
  });
}
