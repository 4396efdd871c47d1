/**
 * The table layout plugin (store/table-layout.ts) as SQL text, without a database: which names it
 * rewrites (tokenver's tables, wherever they are named; index names) and which it leaves alone
 * (aliases, other tables, columns).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from "kysely";
import type { Database } from "../src/store/schema.js";
import { isTokenverTable, withLayout } from "../src/store/table-layout.js";

function postgres(): Kysely<Database> {
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
}

describe("the table layout plugin", () => {
  const db = withLayout(postgres(), { prefix: "auth_", schema: "tv" });

  test("the default layout is the handle itself: no plugin, no cost", () => {
    const plain = postgres();
    assert.equal(withLayout(plain, { prefix: "" }), plain);
    assert.equal(plain.selectFrom("users").select("id").compile().sql, 'select "id" from "users"');
  });

  test("tables in FROM and JOIN get prefix and schema; aliases and columns stay", () => {
    const query = db
      .selectFrom("sessions as s")
      .innerJoin("users as u", "u.id", "s.user_id")
      .select(["s.id", "u.token_version"])
      .where("s.id", "=", "x")
      .compile();
    assert.equal(
      query.sql,
      'select "s"."id", "u"."token_version" from "tv"."auth_sessions" as "s" inner join "tv"."auth_users" as "u" on "u"."id" = "s"."user_id" where "s"."id" = $1',
    );
  });

  test("a column qualified by the table's own name follows the table", () => {
    const query = db
      .updateTable("users")
      .set({ role: "user" })
      .where((eb) => eb.exists(eb.selectFrom("users as other").select("other.id").whereRef("other.id", "<>", "users.id")))
      .compile();
    assert.match(
      query.sql,
      /^update "tv"\."auth_users" set "role" = \$1 where exists \(select "other"\."id" from "tv"\."auth_users" as "other" where "other"\."id" <> "tv"\."auth_users"\."id"\)$/,
    );
  });

  test("migrations: created tables, foreign keys, index names and sql.table()", () => {
    const create = db.schema
      .createTable("sessions")
      .addColumn("user_id", "varchar(64)", (c) => c.references("users.id").onDelete("cascade"))
      .compile();
    assert.equal(
      create.sql,
      'create table "tv"."auth_sessions" ("user_id" varchar(64) references "tv"."auth_users" ("id") on delete cascade)',
    );
    assert.equal(
      db.schema.createIndex("sessions_user_id").on("sessions").column("user_id").compile().sql,
      'create index "auth_sessions_user_id" on "tv"."auth_sessions" ("user_id")',
    );
    assert.equal(db.schema.dropIndex("sessions_user_id").compile().sql, 'drop index "tv"."auth_sessions_user_id"');
    assert.equal(
      sql`UPDATE ${sql.table("users")} SET email_verified_at = created_at`.compile(db).sql,
      'UPDATE "tv"."auth_users" SET email_verified_at = created_at',
    );
  });

  test("a table that is not tokenver's is left where it is", () => {
    const loose = db as unknown as Kysely<{ orders: { id: string } }>;
    assert.equal(loose.selectFrom("orders").select("id").compile().sql, 'select "id" from "orders"');
  });

  test("which names a failed first start may drop", () => {
    const layout = { prefix: "auth_" };
    assert.equal(isTokenverTable(layout, "auth_users"), true);
    assert.equal(isTokenverTable(layout, "auth_tokenver_migration_lock"), true);
    assert.equal(isTokenverTable(layout, "users"), false, "the application's users");
    assert.equal(isTokenverTable(layout, "auth_orders"), false);
  });
});
