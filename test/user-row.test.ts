import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { createAuth, type Auth } from "../src/index.js";
import { openStore, type Store } from "../src/store/database.js";
import { createUserRowReader, USER_ROW_STATEMENT } from "../src/store/queries/user-row.js";
import { createTestDatabase, dialects, type TestDatabase } from "./support/databases.js";
import { TEST_SECRET } from "./support/server.js";

// The hot read of GET /profile (store/queries/user-row.ts) skips the query builder: it must read
// exactly what the builder would (committed rows, visible columns only), on each dialect's fast path.
for (const dialect of dialects()) {
  describe(`the user-row read of GET /profile (${dialect})`, () => {
    let database: TestDatabase;
    let auth: Auth;
    let store: Store;
    let userId: string;
    let directory: string;

    before(async () => {
      directory = mkdtempSync(join(tmpdir(), "tokenver-user-row-"));
      database = await createTestDatabase(dialect, join(directory, "tokenver.db"));
      auth = await createAuth({ databaseUrl: database.url, secret: TEST_SECRET });
      const signIn = await auth.register({ email: `row-${process.pid}@example.com`, password: "correct horse battery staple 1" });
      userId = signIn.user.id;
      store = await openStore(database.url);
    });
    after(async () => {
      await store?.close();
      await auth?.close();
      await database?.drop();
      rmSync(directory, { recursive: true, force: true });
    });

    test("the store hands the reader its fast path: a better-sqlite3 handle or the pg pool", () => {
      if (dialect === "sqlite") assert.ok(store.sqlite !== undefined && store.pool === undefined);
      else assert.ok(store.pool !== undefined && store.sqlite === undefined);
    });

    test("reads the user's visible columns by id, and nothing for an unknown id", async () => {
      const read = createUserRowReader(store);
      const row = await read(userId);
      assert.equal(row?.id, userId);
      assert.equal(row?.email, `row-${process.pid}@example.com`);
      assert.equal(Number(row?.token_version), 0);
      assert.equal("password_hash" in (row ?? {}), false, "the password hash never leaves the database on this path");
      assert.equal(await read("00000000-0000-4000-8000-000000000000"), undefined);
    });

    test("sees a change committed after an earlier read (no cache)", async () => {
      const read = createUserRowReader(store);
      assert.notEqual((await read(userId))?.username, "renamed");
      await store.db.updateTable("users").set({ username: "renamed" }).where("id", "=", userId).execute();
      assert.equal((await read(userId))?.username, "renamed");
    });

    if (dialect === "postgres") {
      test("PostgreSQL: the read is a named prepared statement, planned once per connection", async () => {
        const pool = store.pool as unknown as pg.Pool;
        const client = await pool.connect();
        try {
          const read = createUserRowReader({ dialect: "postgres", db: store.db, pool: client });
          assert.equal((await read(userId))?.id, userId);
          const { rows } = await client.query<{ name: string }>("SELECT name FROM pg_prepared_statements");
          assert.deepEqual(
            rows.map((r) => r.name),
            [USER_ROW_STATEMENT],
          );
          assert.equal((await read(userId))?.id, userId, "a second call reuses the statement");
        } finally {
          client.release();
        }
      });
    }
  });
}
