/**
 * tokenver in the application's own database (issue 20): a table prefix (both dialects), a
 * PostgreSQL schema, and the application's own pg Pool or Kysely instance. tokenver's tables never
 * collide with the application's, it never touches them, and it never closes a connection it was
 * given.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import SQLite from "better-sqlite3";
import { CamelCasePlugin, Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import { createAuth, OptionError, type AuthOptions } from "../../src/index.js";
import { createTestDatabase, dialects, POSTGRES_URL, type DialectName, type TestDatabase } from "../support/databases.js";
import { runCli, startCliServer } from "../support/process.js";
import { useOwnDatabase } from "../../src/store/database.js";
import { createUserRowReader } from "../../src/store/queries/user-row.js";
import { Api, TEST_SECRET } from "../support/server.js";

const dir = mkdtempSync(join(tmpdir(), "tokenver-own-database-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const PASSWORD = "correct horse battery staple 1";

/** The application's own tables, rows and an index whose name tokenver's first migration also uses. */
const APP_SCHEMA = [
  "CREATE TABLE users (id integer primary key, name text not null)",
  "CREATE TABLE sessions (id integer primary key, user_id integer not null, data text)",
  "CREATE INDEX sessions_user_id ON sessions (user_id)",
  "INSERT INTO users (id, name) VALUES (1, 'app user one'), (2, 'app user two')",
  "INSERT INTO sessions (id, user_id, data) VALUES (10, 1, 'app session')",
];

interface Place {
  schema: string | undefined;
  name: string;
}

/** SQL on a test database of either dialect, run outside tokenver. */
class Sql {
  constructor(
    readonly database: TestDatabase,
    readonly file: string | undefined,
  ) {}

  async run<T = Record<string, unknown>>(statements: string[]): Promise<T[]> {
    if (this.database.name === "sqlite") {
      const db = new SQLite(this.file!);
      try {
        let last: T[] = [];
        for (const s of statements) last = /^\s*(select|pragma)/i.test(s) ? (db.prepare(s).all() as T[]) : (db.exec(s), []);
        return last;
      } finally {
        db.close();
      }
    }
    const client = new pg.Client({ connectionString: this.database.url });
    await client.connect();
    try {
      let last: T[] = [];
      for (const s of statements) last = (await client.query(s)).rows as T[];
      return last;
    } finally {
      await client.end();
    }
  }

  /** Every table, with its schema on PostgreSQL. */
  async tables(): Promise<Place[]> {
    if (this.database.name === "sqlite") {
      const rows = await this.run<{ name: string }>(["SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"]);
      return rows.map((r) => ({ schema: undefined, name: r.name }));
    }
    const rows = await this.run<{ schemaname: string; tablename: string }>([
      "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY schemaname, tablename",
    ]);
    return rows.map((r) => ({ schema: r.schemaname, name: r.tablename }));
  }

  /** The application's rows, as they must stay. */
  appRows(): Promise<unknown[]> {
    return this.run(["SELECT 'u' AS t, id, name AS v FROM users UNION ALL SELECT 's' AS t, id, data AS v FROM sessions ORDER BY t, id"]);
  }
}

/**
 * The application's pool. Its clients ignore connection errors as an application's should: the
 * test database is dropped (terminating its connections) while ended clients may still be closing.
 */
function appPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  return pool;
}

async function appDatabase(dialect: DialectName): Promise<Sql> {
  const file = join(dir, `app-${randomBytes(4).toString("hex")}.db`);
  const sql = new Sql(await createTestDatabase(dialect, file), dialect === "sqlite" ? file : undefined);
  await sql.run(APP_SCHEMA);
  return sql;
}

/** Register, verify, the hot user read, refresh, logout (revoked at once), and a login again. */
async function fullFlow(auth: Awaited<ReturnType<typeof createAuth>>, email: string): Promise<void> {
  const signIn = await auth.register({ email, password: PASSWORD });
  const principal = await auth.verify(`Bearer ${signIn.accessToken}`);
  assert.equal((await auth.getUser(principal)).email, email, "the prepared-statement read of GET /profile");
  const pair = await auth.refresh(signIn.refreshToken);
  const refreshed = await auth.verify(`Bearer ${pair.accessToken}`);
  assert.equal(refreshed.userId, signIn.user.id);
  await auth.logout(refreshed, { scope: "all" });
  await assert.rejects(auth.verify(`Bearer ${pair.accessToken}`), { code: "token_revoked" }, "the revocation read");
  await assert.rejects(auth.refresh(pair.refreshToken), (e: { status?: number }) => e.status === 401, "the session is over");
  const again = await auth.login({ email, password: PASSWORD });
  assert.equal((await auth.verify(`Bearer ${again.accessToken}`)).userId, signIn.user.id);
  await auth.prune();
}

async function refusal(options: AuthOptions): Promise<OptionError> {
  const error = await createAuth({ secret: TEST_SECRET, ...options }).then(
    async (auth) => (await auth.close(), assert.fail("createAuth succeeded")),
    (e: unknown) => e,
  );
  assert.ok(error instanceof OptionError, String(error));
  return error;
}

const names = (places: Place[]) => places.map((p) => (p.schema === undefined ? p.name : `${p.schema}.${p.name}`));

for (const dialect of dialects()) {
  const publicSchema = dialect === "postgres" ? "public" : undefined;
  const appTables = names([
    { schema: publicSchema, name: "sessions" },
    { schema: publicSchema, name: "users" },
  ]);

  describe(`${dialect}: a table prefix beside the application's users and sessions`, () => {
    test("both work, tokenver never touches the application's tables, and a restart finds its own", async () => {
      const sql = await appDatabase(dialect);
      try {
        const rows = await sql.appRows();
        const auth = await createAuth({ databaseUrl: sql.database.url, secret: TEST_SECRET, tablePrefix: "auth_" });
        try {
          await fullFlow(auth, "ada@example.com");
        } finally {
          await auth.close();
        }
        const tables = await sql.tables();
        const tokenver = names(tables.filter((t) => !appTables.includes(names([t])[0]!)));
        assert.ok(tokenver.length >= 17, `tokenver's tables: ${tokenver.join(", ")}`);
        for (const name of tokenver) assert.match(name, /^(public\.)?auth_/, "every table of tokenver's has the prefix");
        assert.ok(
          tokenver.some((t) => /auth_tokenver_migration$/.test(t)),
          "the migration table has it too",
        );
        assert.deepEqual(await sql.appRows(), rows, "the application's rows are as they were");
        // The application's tables are still its own (tokenver's users has no `name` column).
        await sql.run(["INSERT INTO users (id, name) VALUES (3, 'app user three')"]);

        // A restart on the same tables: no migration to apply, the account is there.
        const again = await createAuth({ databaseUrl: sql.database.url, secret: TEST_SECRET, tablePrefix: "auth_" });
        try {
          const signIn = await again.login({ email: "ada@example.com", password: PASSWORD });
          assert.equal((await again.getUser(await again.verify(`Bearer ${signIn.accessToken}`))).email, "ada@example.com");
        } finally {
          await again.close();
        }
      } finally {
        await sql.database.drop();
      }
    });

    test("a failed first start with a prefix leaves only the application's tables", async () => {
      const sql = await appDatabase(dialect);
      try {
        // The application already has a table by one of the prefixed names.
        await sql.run(["CREATE TABLE app_sessions (id integer primary key)"]);
        const before = names(await sql.tables());
        const error = await refusal({ databaseUrl: sql.database.url, tablePrefix: "app_" });
        assert.equal(error.option, "databaseUrl");
        assert.match(error.message, /holds a table tokenver would create, and it is not tokenver's \(.*app_sessions.*already exists\)/);
        assert.match(error.message, /tablePrefix/, "the message says what would avoid it");
        assert.deepEqual(names(await sql.tables()), before);
      } finally {
        await sql.database.drop();
      }
    });
  });

  describe(`${dialect}: the application's own Kysely instance`, () => {
    test("tokenver runs on it without the application's plugins and leaves it open", async () => {
      const sql = await appDatabase(dialect);
      const kysely =
        dialect === "sqlite"
          ? new Kysely<any>({
              dialect: new SqliteDialect({ database: new SQLite(sql.file!).exec("PRAGMA foreign_keys = ON") }),
              plugins: [new CamelCasePlugin()],
            })
          : new Kysely<any>({
              dialect: new PostgresDialect({ pool: appPool(sql.database.url, 3) }),
              plugins: [new CamelCasePlugin()],
            });
      try {
        const auth = await createAuth({ database: { kysely }, secret: TEST_SECRET, tablePrefix: "tv_" });
        try {
          await fullFlow(auth, "grace@example.com");
        } finally {
          await auth.close();
        }
        // Still open, with the application's plugin: its camelCase row comes back.
        const rows = await kysely.selectFrom("users").select(["id", "name"]).where("id", "=", 1).execute();
        assert.deepEqual(rows, [{ id: 1, name: "app user one" }]);
        const users = await kysely.selectFrom("tvUsers").select(["email", "tokenVersion"]).execute();
        assert.deepEqual(
          users.map((u) => u.email),
          ["grace@example.com"],
        );
      } finally {
        await kysely.destroy();
        await sql.database.drop();
      }
    });
  });
}

describe("sqlite: what the application's connection must be", () => {
  test("a SQLite connection with foreign keys off is refused by name", async () => {
    // better-sqlite3 turns foreign keys on by default: this application turned them off.
    const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(":memory:").exec("PRAGMA foreign_keys = OFF") }) });
    try {
      const error = await refusal({ database: { kysely } });
      assert.equal(error.option, "database");
      assert.match(error.message, /foreign keys off: run PRAGMA foreign_keys = ON/);
    } finally {
      await kysely.destroy();
    }
  });

  test("no node cache on the application's SQLite connection (no lock tells it of other processes)", async () => {
    const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(":memory:").exec("PRAGMA foreign_keys = ON") }) });
    try {
      const error = await refusal({ database: { kysely }, localCache: true });
      assert.equal(error.option, "localCache");
    } finally {
      await kysely.destroy();
    }
  });
});

describe("the options, refused by name at registration", () => {
  test("a table prefix that is not a lower-case identifier", async () => {
    for (const tablePrefix of ["Auth_", "auth-", "1auth_", "auth_; drop table users", "a".repeat(21)]) {
      const error = await refusal({ databaseUrl: "sqlite::memory:", tablePrefix });
      assert.equal(error.option, "tablePrefix");
      assert.match(
        error.message,
        /must be an SQL identifier: lower-case letters, digits and _, not starting with a digit, at most 20 characters/,
      );
    }
  });

  test("a schema that is not an identifier, a reserved one, or a schema on SQLite", async () => {
    const bad = await refusal({ databaseUrl: "postgres://127.0.0.1:1/none", schema: "Tokenver" });
    assert.equal(bad.option, "schema");
    assert.match((await refusal({ databaseUrl: "postgres://127.0.0.1:1/none", schema: "pg_auth" })).message, /must not begin with pg_/);
    const sqlite = await refusal({ databaseUrl: "sqlite::memory:", schema: "tokenver" });
    assert.equal(sqlite.option, "schema");
    assert.match(sqlite.message, /PostgreSQL only.*tablePrefix/);
  });

  test("the application's connection: one form, not beside databaseUrl", async () => {
    const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(":memory:") }) });
    try {
      assert.equal((await refusal({ databaseUrl: "sqlite::memory:", database: { kysely } })).option, "database");
      assert.equal((await refusal({ database: {} as never })).option, "database");
      assert.equal((await refusal({ database: { pool: 42 } as never })).option, "database.pool");
      assert.equal((await refusal({ database: { kysely: {} } as never })).option, "database.kysely");
      assert.equal((await refusal({ database: { url: "x" } as never })).option, "database.url");
    } finally {
      await kysely.destroy();
    }
  });
});

describe("sqlite: the CLI honours TOKENVER_TABLE_PREFIX", () => {
  test("migrate and serve put tokenver's tables beside the application's", async () => {
    const sql = await appDatabase("sqlite");
    const settings = { TOKENVER_DATABASE_URL: sql.database.url, TOKENVER_SECRET: TEST_SECRET, TOKENVER_TABLE_PREFIX: "auth_" };
    const migrated = await runCli(["migrate"], settings);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.ok((await sql.tables()).some((t) => t.name === "auth_users"));
    const server = await startCliServer(settings);
    try {
      const api = new Api(server.url);
      const { access } = await api.register("cli@example.com", PASSWORD);
      assert.equal((await api.get("/profile", access)).body.email, "cli@example.com");
    } finally {
      await server.stop();
    }
    assert.equal((await sql.run<{ n: number }>(["SELECT count(*) AS n FROM auth_users"]))[0]!.n, 1);
    assert.equal((await sql.run<{ n: number }>(["SELECT count(*) AS n FROM users"]))[0]!.n, 2, "the application's users");

    const bad = await runCli(["migrate"], { ...settings, TOKENVER_TABLE_PREFIX: "Auth-" });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /TOKENVER_TABLE_PREFIX: must be an SQL identifier/);
  });
});

if (POSTGRES_URL !== undefined) {
  describe("postgres: a schema of tokenver's own", () => {
    test("every table and the migration tables are in it, created if missing; the application's stay in public", async () => {
      const sql = await appDatabase("postgres");
      try {
        const rows = await sql.appRows();
        const auth = await createAuth({ databaseUrl: sql.database.url, secret: TEST_SECRET, schema: "auth" });
        try {
          await fullFlow(auth, "ada@example.com");
        } finally {
          await auth.close();
        }
        const tables = await sql.tables();
        assert.deepEqual(
          names(tables.filter((t) => t.schema === "public")),
          ["public.sessions", "public.users"],
          "nothing of tokenver's in public",
        );
        const own = tables.filter((t) => t.schema === "auth").map((t) => t.name);
        for (const name of ["users", "sessions", "refresh_tokens", "tokenver_meta", "tokenver_migration", "tokenver_migration_lock"]) {
          assert.ok(own.includes(name), `auth.${name}`);
        }
        // The foreign keys point at its own users, never at the application's.
        const references = await sql.run<{ target: string }>([
          "SELECT DISTINCT confrelid::regclass::text AS target FROM pg_constraint WHERE contype = 'f' AND connamespace = 'auth'::regnamespace",
        ]);
        assert.ok(
          references.some((r) => r.target === "auth.users"),
          JSON.stringify(references),
        );
        assert.ok(
          references.every((r) => r.target.startsWith("auth.")),
          JSON.stringify(references),
        );
        assert.deepEqual(await sql.appRows(), rows);
      } finally {
        await sql.database.drop();
      }
    });

    test("a schema and a prefix together; the CLI's TOKENVER_DATABASE_SCHEMA", async () => {
      const sql = await appDatabase("postgres");
      try {
        const migrated = await runCli(["migrate"], {
          TOKENVER_DATABASE_URL: sql.database.url,
          TOKENVER_SECRET: TEST_SECRET,
          TOKENVER_DATABASE_SCHEMA: "user",
          TOKENVER_TABLE_PREFIX: "tv_",
        });
        assert.equal(migrated.code, 0, migrated.stderr);
        const own = (await sql.tables()).filter((t) => t.schema === "user").map((t) => t.name);
        assert.ok(own.includes("tv_users") && own.includes("tv_tokenver_migration"), own.join(", "));
        // `user` is a keyword: every name is quoted, the hot reads' too.
        const auth = await createAuth({
          databaseUrl: sql.database.url,
          secret: TEST_SECRET,
          schema: "user",
          tablePrefix: "tv_",
          migrate: false,
        });
        try {
          await fullFlow(auth, "lin@example.com");
        } finally {
          await auth.close();
        }
      } finally {
        await sql.database.drop();
      }
    });
  });

  describe("postgres: a connection whose DateStyle is not ISO", () => {
    // tokenver compares the instants it reads as ISO strings; another DateStyle would make an
    // expired refresh token compare as live. Refused at start-up, on every way in.
    test("is refused at start-up, naming the option and DateStyle (its own URL and the application's pool)", async () => {
      const sql = await appDatabase("postgres");
      const pool = new pg.Pool({ connectionString: sql.database.url, max: 1, options: "-c DateStyle=Postgres" });
      pool.on("error", () => {});
      try {
        const byPool = await refusal({ database: { pool } });
        assert.equal(byPool.option, "database");
        assert.match(byPool.message, /DateStyle/);
        const url = `${sql.database.url}?options=${encodeURIComponent("-c DateStyle=SQL")}`;
        const byUrl = await refusal({ databaseUrl: url });
        assert.equal(byUrl.option, "databaseUrl");
        assert.match(byUrl.message, /DateStyle/);
      } finally {
        await pool.end();
        await sql.database.drop();
      }
    });
  });

  describe("postgres: the application's own pg Pool", () => {
    test("is used, and left open after auth.close()", async () => {
      const sql = await appDatabase("postgres");
      const pool = appPool(sql.database.url, 2);
      try {
        const auth = await createAuth({ database: { pool }, secret: TEST_SECRET, tablePrefix: "auth_" });
        try {
          await fullFlow(auth, "ada@example.com");
        } finally {
          await auth.close();
        }
        assert.equal(pool.ended, false, "auth.close() leaves the application's pool open");
        const { rows } = await pool.query<{ email: string }>("SELECT email FROM auth_users");
        assert.deepEqual(
          rows.map((r) => r.email),
          ["ada@example.com"],
        );
        // The application's own transaction and tokenver share the pool: a row of the app's
        // committed beside a sign-up on the same connections.
        await pool.query("INSERT INTO users (id, name) VALUES (5, 'beside tokenver')");
        assert.equal((await pool.query("SELECT count(*)::int AS n FROM users")).rows[0].n, 3);
      } finally {
        await pool.end();
        await sql.database.drop();
      }
    });

    test("two layouts on one pool: the hot read's named statements differ, so neither reads the other's table", async () => {
      const sql = await appDatabase("postgres");
      const pool = appPool(sql.database.url, 3);
      const first = await createAuth({ database: { pool }, secret: TEST_SECRET, tablePrefix: "one_" });
      const second = await createAuth({ database: { pool }, secret: TEST_SECRET, tablePrefix: "two_" });
      const client = await pool.connect();
      try {
        const a = await first.register({ email: "one@example.com", password: PASSWORD });
        const b = await second.register({ email: "two@example.com", password: PASSWORD });
        // Both readers on one connection, where a named statement is prepared once by its name.
        const one = await useOwnDatabase({ pool }, { prefix: "one_" });
        const two = await useOwnDatabase({ pool }, { prefix: "two_" });
        const readOne = createUserRowReader({ dialect: "postgres", db: one.db, pool: client });
        const readTwo = createUserRowReader({ dialect: "postgres", db: two.db, pool: client });
        for (let i = 0; i < 2; i++) {
          assert.equal((await readOne(a.user.id))?.email, "one@example.com");
          assert.equal((await readTwo(b.user.id))?.email, "two@example.com");
          assert.equal(await readTwo(a.user.id), undefined, "the second layout reads its own table");
        }
        const { rows } = await client.query<{ name: string }>("SELECT name FROM pg_prepared_statements ORDER BY name");
        const names = rows.map((r) => r.name);
        assert.equal(names.length, 2, names.join(", "));
        assert.ok(
          names.every((n) => /^tokenver_user_row_[0-9a-f]{12}$/.test(n)),
          names.join(", "),
        );
        // And through the services (their own pooled connections).
        assert.equal((await first.getUser(await first.verify(`Bearer ${a.accessToken}`))).email, "one@example.com");
        assert.equal((await second.getUser(await second.verify(`Bearer ${b.accessToken}`))).email, "two@example.com");
      } finally {
        client.release();
        await first.close();
        await second.close();
        await pool.end();
        await sql.database.drop();
      }
    });

    test("a node cache without Redis is refused on the application's pool, as on tokenver's", async () => {
      const pool = appPool(POSTGRES_URL!, 1);
      try {
        assert.equal((await refusal({ database: { pool }, localCache: true })).option, "localCache");
      } finally {
        await pool.end();
      }
    });
  });
}
