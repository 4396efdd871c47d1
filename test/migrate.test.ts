import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import SQLite from "better-sqlite3";
import pg from "pg";
import { createTestDatabase, dialects } from "./support/databases.js";
import { TEST_SECRET } from "./support/server.js";

const ROOT = new URL("../", import.meta.url).pathname;

function cli(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], {
    cwd: ROOT,
    env: { ...process.env, TOKENVER_SECRET: TEST_SECRET, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
}

// `tokenver migrate` creates the same schema through the same code on every dialect, and is idempotent.
for (const dialect of dialects()) {
  describe(`tokenver migrate (${dialect})`, () => {
    test("applies the migrations, then again as a no-op", async () => {
      const dir = mkdtempSync(join(tmpdir(), "tokenver-migrate-"));
      const database = await createTestDatabase(dialect, join(dir, "m.db"));
      try {
        const first = cli(["migrate"], { TOKENVER_DATABASE_URL: database.url });
        assert.equal(first.status, 0, first.stderr);
        const second = cli(["migrate"], { TOKENVER_DATABASE_URL: database.url });
        assert.equal(second.status, 0, second.stderr);

        const db =
          dialect === "sqlite"
            ? new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(join(dir, "m.db")) }) })
            : new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 1 }) }) });
        try {
          const tables = await db.introspection.getTables();
          const names = tables.map((t) => t.name).sort();
          for (const t of ["refresh_tokens", "sessions", "tokenver_meta", "users"]) assert.ok(names.includes(t), `${t} missing: ${names}`);
          const users = tables.find((t) => t.name === "users")!;
          assert.deepEqual(users.columns.map((c) => c.name).sort(), [
            "created_at",
            "disabled_at",
            "email",
            "email_verified_at",
            "id",
            "mfa_enabled_at",
            "password_hash",
            "profile",
            "recovery_codes_left",
            "role",
            "token_version",
            "updated_at",
            "username",
          ]);
          const applied = await sql<{ name: string }>`select name from tokenver_migration`.execute(db);
          assert.deepEqual(applied.rows.map((r) => r.name).sort(), [
            "0001_initial",
            "0002_refresh_token_revoked_at",
            "0003_email_keys",
            "0004_mail_outbox",
            "0005_events",
            "0006_admin",
            "0007_browser",
            "0008_signing_keys",
            "0009_recovery",
            "0010_mfa",
            "0012_grace_seal_index",
            "0013_native_types",
          ]);
        } finally {
          await db.destroy();
        }
      } finally {
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
