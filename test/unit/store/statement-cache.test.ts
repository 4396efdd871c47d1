// src/store/statement-cache.ts: the SQLite stores tokenver opens keep their statements prepared
// (Kysely prepares every query anew: on the main thread that cost as much as running it). Kept
// statements must behave exactly like fresh ones: after a schema change, while another iteration
// of the same SQL is open, and with the cache full.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, describe, test } from "node:test";
import { Kysely, sql, SqliteDialect } from "kysely";
import { openStore } from "../../../src/store/database.js";
import { withStatementCache, type StatementSource } from "../../../src/store/statement-cache.js";

const SQLite = createRequire(import.meta.url)("better-sqlite3") as new (file: string) => StatementSource & {
  exec(source: string): unknown;
};

/** A real in-memory connection whose prepare calls are counted, behind the cache. */
function counted(size?: number) {
  const database = new SQLite(":memory:");
  database.exec("create table t (x integer)");
  database.exec("insert into t values (1), (2), (3)");
  const prepared: string[] = [];
  const prepare = database.prepare.bind(database);
  database.prepare = (source: string) => {
    prepared.push(source);
    return prepare(source);
  };
  const cached = withStatementCache(database, size);
  const db = new Kysely<{ t: { x: number; y?: number } }>({ dialect: new SqliteDialect({ database: cached }) });
  return { database, cached, db, prepared };
}

describe("withStatementCache", () => {
  test("prepares a SQL text once and runs the kept statement with each call's parameters", async () => {
    const { db, prepared } = counted();
    const select = (x: number) => db.selectFrom("t").select("x").where("x", "=", x).execute();
    assert.deepEqual(await select(1), [{ x: 1 }]);
    assert.deepEqual(await select(3), [{ x: 3 }]);
    assert.deepEqual(await select(2), [{ x: 2 }]);
    assert.equal(prepared.length, 1);
    await db.destroy();
  });

  test("a kept `select *` follows a schema change (SQLite re-prepares it)", async () => {
    const { db, database, prepared } = counted();
    const all = () => db.selectFrom("t").selectAll().where("x", "=", 1).execute();
    assert.deepEqual(await all(), [{ x: 1 }]);
    database.exec("alter table t add column y integer default 5");
    assert.deepEqual(await all(), [{ x: 1, y: 5 }]);
    assert.equal(prepared.length, 1);
    await db.destroy();
  });

  test("never hands out a statement that is still iterating: the same SQL meanwhile gets a fresh one", async () => {
    // Kysely's one connection is behind a mutex, so its own stream cannot overlap a query; the
    // check is for the day one could (and costs one property read).
    const { cached, db, prepared } = counted();
    const text = "select x from t order by x";
    const kept = cached.prepare(text);
    const rows = kept.iterate([]);
    assert.deepEqual(rows.next().value, { x: 1 });
    const meanwhile = cached.prepare(text);
    assert.notEqual(meanwhile, kept);
    assert.deepEqual(meanwhile.all([]), [{ x: 1 }, { x: 2 }, { x: 3 }]);
    assert.deepEqual([...rows], [{ x: 2 }, { x: 3 }]);
    // Once the iteration has ended the kept statement is handed out again.
    assert.equal(cached.prepare(text), kept);
    assert.equal(prepared.length, 2);
    await db.destroy();
  });

  test("keeps at most `size` statements, dropping the oldest", async () => {
    const { db, prepared } = counted(2);
    const run = (text: string) => sql.raw(text).execute(db);
    await run("select 1");
    await run("select 2");
    await run("select 3");
    await run("select 2");
    await run("select 3");
    assert.equal(prepared.length, 3);
    await run("select 1");
    assert.equal(prepared.length, 4);
    await db.destroy();
  });

  test("closing it closes the connection", async () => {
    const { db, database } = counted();
    await db.selectFrom("t").select("x").execute();
    await db.destroy();
    assert.throws(() => database.prepare("select 1"), /not open/);
  });
});

describe("a SQLite store tokenver opens", () => {
  const stores: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const store of stores) await store.close();
  });

  test("prepares each of its queries once", async () => {
    const store = await openStore("sqlite::memory:");
    stores.push(store);
    const prepared: string[] = [];
    const handle = store.sqlite!;
    const prepare = handle.prepare.bind(handle);
    handle.prepare = ((source: string) => {
      prepared.push(source);
      return prepare(source);
    }) as typeof handle.prepare;
    for (let i = 0; i < 3; i++) await sql`select ${i} as n`.execute(store.db);
    assert.deepEqual(prepared, ["select ? as n"]);
  });
});
