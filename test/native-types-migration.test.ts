// Migration 0013_native_types (issue #20): a database as 0012 left it, with a row in every table
// that has timestamps (every timestamp set, and every nullable one null), a custom-field object,
// a webhook lease released as releases before 0013 wrote it (''), then migrated. On PostgreSQL
// every timestamp column is timestamptz and the custom fields jsonb, and every value reads back as
// before through the store, its prepared user read, an application's pg Pool and an
// application's Kysely instance, in the default layout and in a prefix + schema layout, with pg's
// global type parsers untouched. On SQLite the migration changes nothing.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { openStore, OwnDatabaseError, useOwnDatabase, type Store } from "../src/store/database.js";
import { migrateTo } from "../src/store/migrations/index.js";
import { createUserRowReader, PUBLIC_COLUMNS } from "../src/store/queries/user-row.js";
import { LEASE_RELEASED } from "../src/store/queries/webhooks.js";
import type { TableLayout } from "../src/store/table-layout.js";
import { createTestDatabase, dialects } from "./support/databases.js";

/** A PostgreSQL schema exists only on PostgreSQL. */
const layouts = (dialect: string): TableLayout[] => [
  { prefix: "" },
  dialect === "postgres" ? { prefix: "auth_", schema: "tv" } : { prefix: "auth_" },
];
const isTimestamp = (column: string) => /(^at|_at|^retire_after|^lease_until)$/.test(column);
/** Keys jsonb will reorder (shorter keys first): the custom fields read back with the same content. */
const PROFILE = JSON.stringify({ zeta: 1, alpha: { b: 2, a: [1, "x", null, true, 1.5] }, mid: "é\u2028" });
const VARIANTS = ["full", "nulls"] as const;
const KEYS = new Set(["id", "user_id", "session_id", "kid", "name", "url", "token_hash"]);

type Row = Record<string, unknown>;
interface Column {
  name: string;
  dataType: string;
  isNullable: boolean;
  hasDefaultValue: boolean;
}

async function tokenverTables(store: Store): Promise<Map<string, Column[]>> {
  const tables = await store.db.withoutPlugins().introspection.getTables();
  const schema = store.dialect === "postgres" ? (store.layout.schema ?? "public") : undefined;
  const found = new Map<string, Column[]>();
  for (const t of tables) {
    if (t.schema !== schema || !t.name.startsWith(store.layout.prefix)) continue;
    const bare = t.name.slice(store.layout.prefix.length);
    if (t.columns.some((c) => isTimestamp(c.name))) found.set(bare, t.columns);
  }
  return found;
}

/** Parents first: the foreign keys point at users and sessions. */
const ORDER = (a: string, b: string) => rank(a) - rank(b) || a.localeCompare(b);
const rank = (t: string) => (t === "users" ? 0 : t === "sessions" ? 1 : 2);

function valueFor(table: string, column: Column, variant: (typeof VARIANTS)[number], index: number): unknown {
  if (isTimestamp(column.name)) {
    if (variant === "nulls" && column.isNullable) return null;
    // Milliseconds that are not zero, a different instant per column.
    return new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678) + index * 60_001 + (variant === "nulls" ? 7 : 0)).toISOString();
  }
  if (table === "users" && column.name === "profile") return variant === "full" ? PROFILE : "{}";
  // Keys too: SQLite reports a primary key without NOT NULL as nullable.
  if ((column.isNullable || column.hasDefaultValue) && !KEYS.has(column.name)) return undefined;
  if (/int/.test(column.dataType)) return 1;
  if (column.name === "email") return `${variant}@example.com`;
  return variant;
}

async function fill(store: Store, tables: Map<string, Column[]>): Promise<void> {
  for (const table of [...tables.keys()].sort(ORDER)) {
    for (const variant of VARIANTS) {
      const row: Row = {};
      tables.get(table)!.forEach((column, index) => {
        const value = valueFor(table, column, variant, index);
        if (value !== undefined) row[column.name] = value;
      });
      await store.db
        .insertInto(table as "users")
        .values(row as never)
        .execute();
    }
  }
  // A lease released by a release before 0013.
  await store.db.insertInto("tokenver_leases").values({ name: "released", holder: "", expires_at: "" }).execute();
}

async function readAll(store: Store, tables: Iterable<string>): Promise<Record<string, Row[]>> {
  const all: Record<string, Row[]> = {};
  for (const table of [...tables].sort()) {
    const rows = (await store.db
      .selectFrom(table as "users")
      .selectAll()
      .execute()) as Row[];
    all[table] = rows.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }
  return all;
}

/** The custom fields as their content (jsonb reorders the keys) and the released lease as 0013 writes it. */
function normalised(all: Record<string, Row[]>): Record<string, Row[]> {
  const out: Record<string, Row[]> = {};
  for (const [table, rows] of Object.entries(all)) {
    out[table] = rows.map((row) => {
      const copy = { ...row };
      if (table === "users") copy.profile = JSON.parse(copy.profile as string);
      if (table === "tokenver_leases" && copy.expires_at === "") copy.expires_at = LEASE_RELEASED;
      return copy;
    });
  }
  return out;
}

async function columnTypes(store: Store): Promise<Map<string, string>> {
  const rows = await sql<{ table_name: string; column_name: string; data_type: string; character_maximum_length: number | null }>`
    select table_name, column_name, data_type, character_maximum_length from information_schema.columns
    where table_schema = ${store.layout.schema ?? "public"}`.execute(store.db);
  return new Map(
    rows.rows
      .filter((r) => r.table_name.startsWith(store.layout.prefix))
      .map((r) => [
        `${r.table_name.slice(store.layout.prefix.length)}.${r.column_name}`,
        r.data_type + (r.character_maximum_length === null ? "" : `(${r.character_maximum_length})`),
      ]),
  );
}

for (const dialect of dialects()) {
  for (const layout of layouts(dialect)) {
    const named =
      layout.prefix === "" ? "default layout" : `prefix ${layout.prefix}${layout.schema === undefined ? "" : `, schema ${layout.schema}`}`;
    describe(`migration 0013_native_types (${dialect}, ${named})`, () => {
      test("timestamps and custom fields change type on PostgreSQL; every value reads back as before", async () => {
        const dir = mkdtempSync(join(tmpdir(), "tokenver-native-types-"));
        const database = await createTestDatabase(dialect, join(dir, "m.db"));
        const store = await openStore(database.url, { layout });
        const parsersBefore = [1184, 3802, 1114, 25].map((oid) => pg.types.getTypeParser(oid));
        try {
          const applied = await migrateTo(store.db, "0012_grace_seal_index", layout);
          assert.equal(applied.at(-1), "0012_grace_seal_index");
          const tables = await tokenverTables(store);
          assert.ok(tables.size >= 15, `tables with timestamps: ${[...tables.keys()]}`);
          await fill(store, tables);
          const before = await readAll(store, tables.keys());
          const typesBefore = dialect === "postgres" ? await columnTypes(store) : undefined;

          assert.deepEqual(await migrateTo(store.db, undefined, layout), ["0013_native_types"]);
          const after = await readAll(store, tables.keys());
          assert.deepEqual(normalised(after), normalised(before));
          // The same strings, not only the same instants: the shape isoAt writes, milliseconds included.
          const full = after.users!.find((u) => u.id === "full")!;
          assert.equal(full.created_at, before.users!.find((u) => u.id === "full")!.created_at);
          assert.match(full.created_at as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

          // The prepared read of GET /profile.
          const reader = createUserRowReader(store);
          const expected = Object.fromEntries(PUBLIC_COLUMNS.map((c) => [c, full[c]]));
          assert.deepEqual(await reader("full"), expected);

          if (dialect === "sqlite") return;
          assert.equal(after.tokenver_leases!.find((l) => l.name === "released")!.expires_at, LEASE_RELEASED);
          const typesAfter = await columnTypes(store);
          for (const [column, type] of typesBefore!) {
            const [table, name] = column.split(".") as [string, string];
            if (tables.has(table) && isTimestamp(name)) {
              assert.equal(type, "character varying(32)", `${column} before`);
              assert.equal(typesAfter.get(column), "timestamp with time zone", column);
            } else if (column === "users.profile") {
              assert.equal(typesAfter.get(column), "jsonb");
            } else {
              assert.equal(typesAfter.get(column), type, `${column} is unchanged`);
            }
          }
          // No text timestamp left anywhere in tokenver's tables; events' detail stays text.
          assert.deepEqual(
            [...typesAfter].filter(([, type]) => type === "character varying(32)"),
            [],
          );
          assert.equal(typesAfter.get("tokenver_events.detail"), "text");
          // jsonb orders keys by length, then bytes.
          assert.deepEqual(Object.keys(JSON.parse(full.profile as string)), ["mid", "zeta", "alpha"]);
          // A new user's fields still default to an empty object.
          await store.db
            .insertInto("users")
            .values({
              id: "new",
              email: "new@example.com",
              username: null,
              password_hash: "x",
              created_at: full.created_at as string,
              updated_at: full.created_at as string,
            } as never)
            .execute();
          assert.equal((await reader("new"))!.profile, "{}");

          // An application's pool (in another time zone) and an application's Kysely instance read
          // exactly what the store reads; pg's global parsers are left as they were.
          const appPool = new pg.Pool({ connectionString: database.url, max: 2, options: "-c TimeZone=Asia/Kolkata" });
          const appKysely = new Kysely<any>({
            dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 2 }) }),
          });
          try {
            const now = await readAll(store, tables.keys());
            const ownPool = await useOwnDatabase({ pool: appPool }, layout);
            assert.deepEqual(await readAll(ownPool, tables.keys()), now);
            assert.deepEqual(await createUserRowReader(ownPool)("full"), expected);
            // Through Kysely's pg parsers and back: the same strings, the custom fields as
            // JSON.stringify spells them (no spaces) rather than as jsonb's text.
            const ownKysely = await useOwnDatabase({ kysely: appKysely }, layout);
            const compact = (row: Row) => ({ ...row, profile: JSON.stringify(JSON.parse(row.profile as string)) });
            assert.deepEqual(await readAll(ownKysely, tables.keys()), { ...now, users: now.users!.map(compact) });
            assert.deepEqual(await createUserRowReader(ownKysely)("full"), compact(expected));
            // The application's own queries still get pg's defaults.
            const plain = (await appPool.query("select now() as at, '{\"b\":1}'::jsonb as j")).rows[0];
            assert.ok(plain.at instanceof Date);
            assert.deepEqual(plain.j, { b: 1 });
            const viaKysely = (await sql<{ at: unknown }>`select now() as at`.execute(appKysely)).rows[0]!;
            assert.ok(viaKysely.at instanceof Date);
          } finally {
            await appPool.end();
            await appKysely.destroy();
          }
          assert.deepEqual(
            [1184, 3802, 1114, 25].map((oid) => pg.types.getTypeParser(oid)),
            parsersBefore,
          );

          // An application's Kysely whose pool parses timestamptz its own way: refused, by name.
          const odd = new Kysely<any>({
            dialect: new PostgresDialect({
              pool: new pg.Pool({
                connectionString: database.url,
                max: 1,
                types: { getTypeParser: ((oid: number) => (oid === 1184 ? (t: string) => t : pg.types.getTypeParser(oid))) as never },
              }),
            }),
          });
          try {
            await assert.rejects(useOwnDatabase({ kysely: odd }, layout), (e: unknown) => {
              assert.ok(e instanceof OwnDatabaseError);
              assert.match(e.message, /reads timestamptz 2001-02-03T04:05:06\.789Z back as "2001-02-03 04:05:06\.789\+00"/);
              return true;
            });
          } finally {
            await odd.destroy();
          }
        } finally {
          await store.close();
          await database.drop();
          rmSync(dir, { recursive: true, force: true });
        }
      });
    });
  }
}

if (dialects().includes("postgres")) {
  describe("migration 0013_native_types (postgres): a custom field holding U+0000", () => {
    test("stops before changing anything, and says why", async () => {
      const database = await createTestDatabase("postgres");
      const store = await openStore(database.url);
      try {
        await migrateTo(store.db, "0012_grace_seal_index");
        const at = "2026-01-02T03:04:05.678Z";
        const user = { username: null, password_hash: "x", created_at: at, updated_at: at };
        await store.db
          .insertInto("users")
          .values({ id: "a", email: "a@example.com", profile: JSON.stringify({ n: "x\u0000y" }), ...user })
          .execute();
        // An escaped backslash before `u0000` is no U+0000.
        await store.db
          .insertInto("users")
          .values({ id: "b", email: "b@example.com", profile: JSON.stringify({ n: "\\u0000" }), ...user })
          .execute();
        await assert.rejects(migrateTo(store.db), /1 user\(s\) hold U\+0000 in a custom field/);
        const types = await columnTypes(store);
        assert.equal(types.get("users.created_at"), "character varying(32)");
        await store.db.deleteFrom("users").where("id", "=", "a").execute();
        assert.deepEqual(await migrateTo(store.db), ["0013_native_types"]);
        assert.equal((await createUserRowReader(store)("b"))!.profile, '{"n": "\\\\u0000"}');
      } finally {
        await store.close();
        await database.drop();
      }
    });

    test("a custom field holding an unpaired surrogate (stored by 0.1.0) stops it too, and says why", async () => {
      const database = await createTestDatabase("postgres");
      const store = await openStore(database.url);
      try {
        await migrateTo(store.db, "0012_grace_seal_index");
        const at = "2026-01-02T03:04:05.678Z";
        const user = { username: null, password_hash: "x", created_at: at, updated_at: at };
        await store.db
          .insertInto("users")
          .values({ id: "a", email: "a@example.com", profile: JSON.stringify({ n: "x\ud800" }), ...user })
          .execute();
        // A pair is text (JSON.stringify writes it as itself), and so is a key's escaped backslash.
        await store.db
          .insertInto("users")
          .values({ id: "b", email: "b@example.com", profile: JSON.stringify({ n: "\ud83e\udd8a", "\\ud800": 1 }), ...user })
          .execute();
        await assert.rejects(migrateTo(store.db), /1 user\(s\) hold an unpaired UTF-16 surrogate/);
        const types = await columnTypes(store);
        assert.equal(types.get("users.created_at"), "character varying(32)");
        await store.db.deleteFrom("users").where("id", "=", "a").execute();
        assert.deepEqual(await migrateTo(store.db), ["0013_native_types"]);
        assert.deepEqual(JSON.parse((await createUserRowReader(store)("b"))!.profile), { n: "\ud83e\udd8a", "\\ud800": 1 });
      } finally {
        await store.close();
        await database.drop();
      }
    });
  });
}
