// src/store/queries/admin-users.ts `lockAdmins` on SQLite: an admin action reads (the acting admin,
// the target) before it writes. Begun by a read, a SQLite transaction holds a snapshot, and a commit
// by another process on the same file (the CLI beside the server) before the action's write makes
// that write fail with SQLITE_BUSY_SNAPSHOT: a 503 for a request that did nothing wrong. lockAdmins
// takes the write lock first, so the other process waits for the action's commit instead.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Store } from "../../../src/store/database.js";
import { lockAdmins } from "../../../src/store/queries/admin-users.js";
import { sqliteFileWithOther, type SqliteFileWithOther } from "../../support/sqlite-file.js";

describe("lockAdmins (SQLite, a second process on the same file)", () => {
  let file: SqliteFileWithOther;
  let store: Store;
  const otherWrite = () => file.otherCommits();

  before(async () => {
    file = await sqliteFileWithOther("admin-lock");
    store = file.store;
  });
  after(() => file?.close());

  test("holds the database's write lock from its own statement until the transaction ends", async () => {
    await store.db.transaction().execute(async (trx) => {
      await lockAdmins(trx, "sqlite");
      assert.throws(otherWrite, { code: "SQLITE_BUSY" });
    });
    // Released with the commit.
    assert.equal(otherWrite().changes, 1);
  });

  test("reads after it are not outdated by another process: the action's write commits", async () => {
    await store.db.transaction().execute(async (trx) => {
      await lockAdmins(trx, "sqlite");
      await trx.selectFrom("users").select("role").where("id", "=", "u1").executeTakeFirstOrThrow();
      assert.throws(otherWrite, { code: "SQLITE_BUSY" });
      await trx.updateTable("users").set({ role: "admin" }).where("id", "=", "u1").execute();
    });
    const row = await store.db.selectFrom("users").select("role").where("id", "=", "u1").executeTakeFirstOrThrow();
    assert.equal(row.role, "admin");
  });

  test("without it, the same interleaving fails the action's write with SQLITE_BUSY_SNAPSHOT (why the lock is taken)", async () => {
    await assert.rejects(
      store.db.transaction().execute(async (trx) => {
        await trx.selectFrom("users").select("role").where("id", "=", "u1").executeTakeFirstOrThrow();
        otherWrite();
        await trx.updateTable("users").set({ role: "user" }).where("id", "=", "u1").execute();
      }),
      { code: "SQLITE_BUSY_SNAPSHOT" },
    );
  });
});
