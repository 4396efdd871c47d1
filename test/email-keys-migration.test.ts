// Migration 0003_email_keys (docs/api.md section 3: "existing rows are migrated and collisions
// reported, never silently merged"), on every dialect: a database as the release before it left
// it, filled with emails that were only trimmed and lower-cased, then createAuth() (which migrates).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import SQLite from "better-sqlite3";
import pg from "pg";
import { createAuth } from "../src/index.js";
import { hashPassword } from "../src/core/passwords/hashing.js";
import { migrateTo } from "../src/store/migrations/index.js";
import { createTestDatabase, dialects } from "./support/databases.js";
import { TEST_SECRET } from "./support/server.js";

const PASSWORD = "a long and unguessable passphrase";

for (const dialect of dialects()) {
  describe(`migration 0003_email_keys (${dialect})`, () => {
    test("re-keys every email, leaves colliding accounts as they are and reports them until resolved", async () => {
      const dir = mkdtempSync(join(tmpdir(), "tokenver-email-keys-"));
      const database = await createTestDatabase(dialect, join(dir, "m.db"));
      const db =
        dialect === "sqlite"
          ? new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(join(dir, "m.db")) }) })
          : new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 1 }) }) });
      try {
        // The schema as 0002 left it, and rows as the code of then stored them.
        assert.deepEqual(await migrateTo(db, "0002_refresh_token_revoked_at"), ["0001_initial", "0002_refresh_token_revoked_at"]);
        const hash = await hashPassword(PASSWORD);
        const now = new Date().toISOString();
        const rows: Record<string, string> = {
          fullWidth: "ａｌｉｃｅ@example.com", // -> alice@example.com
          nfc: "jos\u00e9@example.com", // already its key; collides with nfd
          nfd: "jose\u0301@example.com",
          unicodeDomain: "bob@bücher.example", // -> bob@xn--bcher-kva.example
          aLabel: "carol@xn--bcher-kva.example", // already its key
          daveFull: "ｄａｖｅ@example.com", // both -> dave@example.com: a collision of two rows that would both change
          daveDomain: "dave@ｅｘａｍｐｌｅ.com",
          invisible: "zero\u200bwidth@example.com", // its own key (refused for new accounts, kept for this one)
          notADomain: "odd@ex#ample.com", // no domain name: kept as it was
          plain: "plain@example.com",
        };
        for (const [id, email] of Object.entries(rows)) {
          await db
            .insertInto("users")
            .values({ id, email, username: null, password_hash: hash, profile: "{}", created_at: now, updated_at: now })
            .execute();
        }

        const warnings: string[] = [];
        const options = { secret: TEST_SECRET, databaseUrl: database.url, onWarning: (m: string) => warnings.push(m) };
        const auth = await createAuth(options);
        const emails = async () =>
          Object.fromEntries(
            (await db.selectFrom("users").select(["id", "email"]).execute()).map((r: { id: string; email: string }) => [r.id, r.email]),
          );
        try {
          assert.deepEqual(await emails(), {
            ...rows,
            fullWidth: "alice@example.com",
            unicodeDomain: "bob@xn--bcher-kva.example",
          });
          // Reported, by user id only: which accounts, never their addresses.
          const report = warnings.filter((w) => w.includes("not merged"));
          assert.equal(report.length, 1, warnings.join("\n"));
          assert.match(report[0]!, /2 group\(s\)/);
          assert.ok(report[0]!.includes("nfc = nfd") && report[0]!.includes("daveDomain = daveFull"), report[0]);
          assert.ok(!report[0]!.includes("@"), "no address in the warning");
          const meta = await db
            .selectFrom("tokenver_meta")
            .select("value")
            .where("key", "=", "email_key_collisions")
            .executeTakeFirstOrThrow();
          const recorded = (JSON.parse(meta.value) as Array<{ key: string }>).sort((a, b) => a.key.localeCompare(b.key));
          assert.deepEqual(recorded, [
            { key: "dave@example.com", ids: ["daveDomain", "daveFull"] },
            { key: "jos\u00e9@example.com", ids: ["nfc", "nfd"] },
          ]);

          // Every re-keyed account signs in by any form of its address; the NFC row is the one its key finds.
          for (const [email, id] of [
            ["ALICE@example.com", "fullWidth"],
            ["ａｌｉｃｅ@example.com", "fullWidth"],
            ["bob@BÜCHER.example", "unicodeDomain"],
            ["bob@xn--bcher-kva.example", "unicodeDomain"],
            ["jose\u0301@example.com", "nfc"],
            ["zero\u200bwidth@example.com", "invisible"],
            ["plain@example.com", "plain"],
          ] as const) {
            assert.equal((await auth.login({ email, password: PASSWORD })).user.id, id, email);
          }
        } finally {
          await auth.close();
        }

        // An operator resolves both groups: one account gets another address, the other is removed.
        await db.updateTable("users").set({ email: "jose.elsewhere@example.com" }).where("id", "=", "nfc").execute();
        await db.deleteFrom("users").where("id", "=", "daveDomain").execute();
        warnings.length = 0;
        const restarted = await createAuth(options);
        try {
          assert.deepEqual(
            warnings.filter((w) => w.includes("not merged")),
            [],
            warnings.join("\n"),
          );
          const after = await emails();
          assert.equal(after.nfd, "jos\u00e9@example.com", "the one left is re-keyed at the next start");
          assert.equal(after.daveFull, "dave@example.com");
          assert.equal(
            await db.selectFrom("tokenver_meta").select("value").where("key", "=", "email_key_collisions").executeTakeFirst(),
            undefined,
          );
          assert.equal((await restarted.login({ email: "JOSE\u0301@example.com", password: PASSWORD })).user.id, "nfd");
          assert.equal((await restarted.login({ email: "ＤＡＶＥ@example.com", password: PASSWORD })).user.id, "daveFull");
        } finally {
          await restarted.close();
        }
      } finally {
        await db.destroy();
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
