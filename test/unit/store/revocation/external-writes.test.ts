// src/store/revocation/external-writes.ts and the node cache over it, on a SQLite file with a second
// connection standing for another process (a `tokenver users` command). The server has one
// connection, and Kysely's SQLite driver awaits between the statements of a transaction, so a
// request may be checked while another request's transaction is open on it. The check must not run
// there: inside a transaction the pragma does not show later commits of other processes (a revoked
// session would be answered from memory), and it would give a transaction that has not read yet a
// snapshot (its first write would then fail with SQLITE_BUSY_SNAPSHOT instead of waiting).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type Database from "better-sqlite3";
import type { Store } from "../../../../src/store/database.js";
import { insertSession } from "../../../../src/store/queries/sessions.js";
import { createUserRowReader, type PublicUserRow } from "../../../../src/store/queries/user-row.js";
import { DatabaseRevocationState } from "../../../../src/store/revocation/database-state.js";
import { ExternalWrites } from "../../../../src/store/revocation/external-writes.js";
import { LocalRevocationCache } from "../../../../src/store/revocation/local-cache.js";
import { sqliteFileWithOther, type SqliteFileWithOther } from "../../../support/sqlite-file.js";

const NOW = new Date().toISOString();
const LATER = new Date(Date.now() + 86_400_000).toISOString();

describe("external writes on SQLite, with a transaction open on the server's connection", () => {
  let file: SqliteFileWithOther;
  let store: Store;
  let other: Database.Database;
  const otherCommits = () => file.otherCommits();

  before(async () => {
    file = await sqliteFileWithOther("external-writes");
    ({ store, other } = file);
  });
  after(() => file?.close());

  test("check() answers false and checks nothing inside a transaction; the next call outside one checks at once", async () => {
    // An interval of a minute: the first check is due, and had it run inside the transaction it
    // would have counted, and nothing would be checked again for a minute.
    const external = new ExternalWrites(store.sqlite!, 60_000);
    let changes = 0;
    external.onChange(() => changes++);
    await store.db.transaction().execute(async (trx) => {
      await trx.selectFrom("users").select("id").execute();
      // After this transaction's snapshot: invisible to a pragma run inside it.
      otherCommits();
      assert.equal(external.check(), false);
    });
    assert.equal(changes, 0);
    assert.equal(external.check(), true);
    assert.equal(changes, 1);
  });

  test("check() gives a transaction that has not read yet no snapshot: its first write after another commit waits, not fails", async () => {
    const external = new ExternalWrites(store.sqlite!, 0);
    await store.db.transaction().execute(async (trx) => {
      external.check();
      otherCommits();
      await trx.updateTable("users").set({ role: "admin" }).where("id", "=", "u1").execute();
    });
    const row = await store.db.selectFrom("users").select("role").where("id", "=", "u1").executeTakeFirstOrThrow();
    assert.equal(row.role, "admin");
  });

  test("a session revoked by another process is not answered from memory while a transaction is open", async () => {
    await insertSession(store.db, { id: "s1", user_id: "u1", token_version: 0, now: NOW, expires_at: LATER, user_agent: null, ip: null });
    const external = new ExternalWrites(store.sqlite!, 60_000);
    const cache = new LocalRevocationCache(new DatabaseRevocationState(store.db, store.sqlite), { externalWrites: external });
    assert.equal((await cache.get("s1", "u1"))?.revoked, false);
    let answer: ReturnType<typeof cache.get> | undefined;
    await store.db.transaction().execute(async (trx) => {
      await trx.selectFrom("users").select("id").execute();
      other.prepare("update sessions set revoked_at = ? where id = 's1'").run(NOW);
      // Not awaited here: a read through the database waits for this transaction to end.
      answer = cache.get("s1", "u1");
    });
    assert.equal((await answer!)?.revoked, true);
  });

  test("a user row changed by another process is not answered from memory while a transaction is open", async () => {
    const external = new ExternalWrites(store.sqlite!, 60_000);
    const cache = new LocalRevocationCache(new DatabaseRevocationState(store.db, store.sqlite), { externalWrites: external });
    const read = createUserRowReader({ dialect: "sqlite", db: store.db, sqlite: store.sqlite });
    const version = (await store.db.selectFrom("users").select("token_version").where("id", "=", "u1").executeTakeFirstOrThrow())
      .token_version;
    assert.notEqual((await cache.readUser<PublicUserRow>("u1", version, read))?.username, "renamed by the CLI");
    let answer: Promise<PublicUserRow | undefined> | undefined;
    await store.db.transaction().execute(async (trx) => {
      await trx.selectFrom("users").select("id").execute();
      other.prepare("update users set username = 'renamed by the CLI' where id = 'u1'").run();
      answer = cache.readUser<PublicUserRow>("u1", version, read);
    });
    assert.equal((await answer!)?.username, "renamed by the CLI");
  });
});
