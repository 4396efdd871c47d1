/**
 * Database failures say what happened, in the library (OptionError naming databaseUrl) and the
 * CLI (its one line), and a failed first start leaves no table behind.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import pg from "pg";
import SQLite from "better-sqlite3";
import { createAuth, OptionError } from "../src/index.js";
import { createTestDatabase, dialects, POSTGRES_URL, type TestDatabase } from "./support/databases.js";
import { TEST_SECRET } from "./support/server.js";

const dir = mkdtempSync(join(tmpdir(), "tokenver-dberrors-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function refusal(databaseUrl: string): Promise<OptionError> {
  const error = await createAuth({ databaseUrl, secret: TEST_SECRET }).then(
    async (auth) => (await auth.close(), assert.fail("createAuth succeeded")),
    (e: unknown) => e,
  );
  assert.ok(error instanceof OptionError, String(error));
  assert.equal(error.option, "databaseUrl");
  return error;
}

/** Runs SQL on a test database of either dialect; returns the table names after. */
async function onDatabase(database: TestDatabase, file: string | undefined, statements: string[]): Promise<string[]> {
  if (database.name === "sqlite") {
    const db = new SQLite(file!);
    try {
      for (const s of statements) db.exec(s);
      return db
        .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .all()
        .map((r) => r.name);
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    for (const s of statements) await client.query(s);
    const { rows } = await client.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    return rows.map((r) => r.tablename);
  } finally {
    await client.end();
  }
}

for (const dialect of dialects()) {
  describe(`${dialect}: an application's own tables`, () => {
    test("a table of the app's in the way is named, and the failed start leaves nothing behind", async () => {
      const file = join(dir, `app-${randomBytes(4).toString("hex")}.db`);
      const database = await createTestDatabase(dialect, file);
      try {
        // The app's own sessions table: tokenver's users table (created first) succeeds, sessions fails.
        const appTables = await onDatabase(database, file, ["CREATE TABLE sessions (id integer primary key, data text)"]);
        const error = await refusal(database.url);
        assert.match(error.message, /holds a table tokenver would create, and it is not tokenver's \(.*sessions.*already exists\)/);
        assert.doesNotMatch(error.message, /did not answer/);
        assert.deepEqual(await onDatabase(database, file, []), appTables);
      } finally {
        await database.drop();
      }
    });
  });
}

describe("sqlite: what the file is", () => {
  test("a file that is not a database is named as such", async () => {
    const file = join(dir, "notes.txt");
    writeFileSync(file, "these are my notes, not a database, and long enough to have a header ".repeat(20));
    assert.match((await refusal(`sqlite:${file}`)).message, /is not a SQLite database/);
  });
});

// PostgreSQL's failures, where a server is configured (run-tests.mjs says when it is not).
if (POSTGRES_URL !== undefined)
  describe("postgres: connection failures", () => {
    test("a refused connection names host and port, never the credentials", async () => {
      const error = await refusal("postgres://someone:hunter2secret@127.0.0.1:1/app");
      assert.match(error.message, /the connection to 127\.0\.0\.1:1 was refused/);
      assert.doesNotMatch(error.message, /hunter2|someone/);
    });

    test("a database that does not exist is named", async () => {
      const url = new URL(POSTGRES_URL!);
      url.pathname = `/tokenver_missing_${randomBytes(4).toString("hex")}`;
      assert.match((await refusal(url.toString())).message, /database "tokenver_missing_[0-9a-f]+" does not exist/);
    });

    test("a role that may not create tables gets permission denied, and nothing is left behind", async () => {
      const database = await createTestDatabase("postgres");
      const role = `tokenver_limited_${randomBytes(4).toString("hex")}`;
      try {
        await onDatabase(database, undefined, [`CREATE ROLE ${role} LOGIN`, "REVOKE CREATE ON SCHEMA public FROM PUBLIC"]);
        const url = new URL(database.url);
        url.username = role;
        url.password = "";
        const error = await refusal(url.toString());
        assert.match(error.message, /permission denied/);
        assert.deepEqual(await onDatabase(database, undefined, []), []);
      } finally {
        await database.drop();
        await onDatabase({ name: "postgres", url: POSTGRES_URL!, drop: async () => {} }, undefined, [`DROP ROLE IF EXISTS ${role}`]);
      }
    });

    test("a schema of its own (search_path in the URL) keeps tokenver beside the app's users and sessions", async () => {
      const database = await createTestDatabase("postgres");
      try {
        const appTables = ["CREATE TABLE users (id serial primary key, name text)", "CREATE TABLE sessions (id serial primary key)"];
        await onDatabase(database, undefined, [...appTables, "CREATE SCHEMA tokenver"]);
        const url = new URL(database.url);
        url.searchParams.set("options", "-c search_path=tokenver");
        const auth = await createAuth({ databaseUrl: url.toString(), secret: TEST_SECRET });
        try {
          const { accessToken } = await auth.register({ email: "ada@example.com", password: "correct horse battery staple" });
          const principal = await auth.verify(`Bearer ${accessToken}`);
          assert.equal((await auth.getUser(principal)).email, "ada@example.com"); // the prepared-statement read
          await auth.logout(principal);
          await assert.rejects(auth.verify(`Bearer ${accessToken}`), { code: "token_revoked" }); // the raw revocation read
        } finally {
          await auth.close();
        }
        // The app's tables are untouched and empty; tokenver's are in its schema.
        assert.deepEqual(await onDatabase(database, undefined, []), ["sessions", "users"]);
        const client = new pg.Client({ connectionString: database.url });
        await client.connect();
        try {
          const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM public.users");
          assert.equal(rows[0]!.n, "0");
          const tables = await client.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'tokenver'");
          assert.ok(tables.rows.some((r) => r.tablename === "tokenver_migration"));
        } finally {
          await client.end();
        }
      } finally {
        await database.drop();
      }
    });

    test("the CLI prints the same cause on its one line", async () => {
      const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "migrate"], {
        env: { ...process.env, TOKENVER_DATABASE_URL: "postgres://someone:hunter2secret@127.0.0.1:1/app" },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (chunk) => (stderr += String(chunk)));
      const code = await new Promise((resolve) => child.on("exit", resolve));
      assert.equal(code, 1);
      assert.match(stderr, /TOKENVER_DATABASE_URL: could not be opened: the connection to 127\.0\.0\.1:1 was refused/);
      assert.doesNotMatch(stderr, /hunter2/);
    });
  });
