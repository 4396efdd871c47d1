// src/store/durability.ts: a commit without an fsync on SQLite, for writes whose loss on a power
// failure fails closed. What can be seen without pulling the plug: the setting inside and after,
// that nothing else runs on the connection meanwhile, that a failed write rolls back and still
// puts the setting back, that an application's own lower setting is left alone, and that the
// write commits (on both dialects).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { sql, type Kysely } from "kysely";
import { openStore, type Store } from "../../../src/store/database.js";
import { commitWithoutSync } from "../../../src/store/durability.js";
import { createTestDatabase, dialects, type TestDatabase } from "../../support/databases.js";

const synchronous = async (db: Kysely<any>) =>
  Number((await sql<{ synchronous: number }>`pragma synchronous`.execute(db)).rows[0]?.synchronous);
const count = async (db: Kysely<any>) =>
  Number((await sql<{ n: number }>`select count(*) as n from durability_probe`.execute(db)).rows[0]?.n);

for (const dialect of dialects()) {
  describe(`commitWithoutSync (${dialect})`, () => {
    let dir: string;
    let database: TestDatabase;
    let store: Store;
    let db: Kysely<any>;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "tokenver-durability-"));
      database = await createTestDatabase(dialect, join(dir, "store.db"));
      store = await openStore(database.url);
      db = store.db as Kysely<any>;
      await sql`create table durability_probe (id integer primary key)`.execute(db);
    });
    after(async () => {
      await store?.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    test("the write commits, and a write that throws rolls back and its error reaches the caller", async () => {
      const before = await count(db);
      assert.equal(
        await commitWithoutSync(db, async (trx) => (await sql`insert into durability_probe (id) values (1)`.execute(trx), "answer")),
        "answer",
      );
      assert.equal(await count(db), before + 1);
      const failure = new Error("the write refused");
      await assert.rejects(
        commitWithoutSync(db, async (trx) => {
          await sql`insert into durability_probe (id) values (2)`.execute(trx);
          throw failure;
        }),
        (error) => error === failure,
      );
      assert.equal(await count(db), before + 1);
    });

    if (dialect !== "sqlite") return;

    test("SQLite commits it with NORMAL and is FULL again after, whether the write succeeded or not", async () => {
      assert.equal(await synchronous(db), 2, "the store opens with synchronous = FULL");
      let inside: number | undefined;
      await commitWithoutSync(db, async (trx) => {
        inside = await synchronous(trx);
      });
      assert.equal(inside, 1);
      assert.equal(await synchronous(db), 2);
      await assert.rejects(commitWithoutSync(db, async () => Promise.reject(new Error("no"))));
      assert.equal(await synchronous(db), 2);
    });

    test("no other statement runs on the connection while the setting is lowered", async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const relaxed = commitWithoutSync(db, async (trx) => {
        await sql`insert into durability_probe (id) values (10)`.execute(trx);
        await held;
      });
      // Issued while the relaxed transaction is open: it waits for the connection, and by then the
      // setting is back (a write here would otherwise commit unsynced, or inside that transaction).
      const other = (async () => [await synchronous(db), await count(db)])();
      await new Promise((resolve) => setTimeout(resolve, 50));
      release();
      await relaxed;
      const [level, rows] = await other;
      assert.equal(level, 2);
      assert.ok(rows! >= 1);
    });

    test("a connection the application set to NORMAL or OFF keeps its setting", async () => {
      for (const level of [1, 0]) {
        await sql.raw(`pragma synchronous = ${level}`).execute(db);
        let inside: number | undefined;
        await commitWithoutSync(db, async (trx) => {
          inside = await synchronous(trx);
        });
        assert.equal(inside, level);
        assert.equal(await synchronous(db), level);
      }
      await sql`pragma synchronous = FULL`.execute(db);
    });
  });
}
