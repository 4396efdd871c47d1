// src/store/queries/admin-users.ts `lockAdmins` on SQLite: an admin action reads (the acting admin,
// the target) before it writes. Begun by a read, a SQLite transaction holds a snapshot, and a commit
// by another process on the same file (the CLI beside the server) before the action's write makes
// that write fail with SQLITE_BUSY_SNAPSHOT: a 503 for a request that did nothing wrong. lockAdmins
// takes the write lock first, so the other process waits for the action's commit instead.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { openStore, type Store } from "../../../src/store/database.js";
import { migrateToLatest } from "../../../src/store/migrations/index.js";
import { lockAdmins } from "../../../src/store/queries/admin-users.js";
import { insertUser } from "../../../src/store/queries/users.js";

describe("lockAdmins (SQLite, a second process on the same file)", () => {
  let dir: string;
  let store: Store;
  let other: Database.Database;
  // A new value each time: a commit that changes something (an identical row may write nothing).
  let writes = 0;
  const otherWrite = () => other.prepare("update users set username = ? where id = 'u1'").run(`cli-${++writes}`);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tokenver-admin-lock-"));
    const file = join(dir, "store.db");
    store = await openStore(`sqlite:${file}`);
    await migrateToLatest(store.db);
    const now = new Date().toISOString();
    await insertUser(store.db, { id: "u1", email: "u1@example.test", username: null, password_hash: "x", profile: "{}", now });
    // The other process, without a busy timeout: a write that would have to wait fails at once.
    other = new Database(file);
    other.pragma("busy_timeout = 0");
  });
  after(async () => {
    other?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

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
