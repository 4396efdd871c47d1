import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { createTestDatabase, dialects, type TestDatabase } from "./support/databases.js";
import { runCli, startCliServer, type RunningServer } from "./support/process.js";
import { Api, claimsOf } from "./support/server.js";

/** The signing secret the server generated and stored, read straight from its database. */
async function storedSecret(database: TestDatabase): Promise<string> {
  if (database.name === "sqlite") {
    const db = new Database(database.url.slice("sqlite:".length), { readonly: true });
    try {
      return (db.prepare("SELECT value FROM tokenver_meta WHERE key = 'signing_secret'").get() as { value: string }).value;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query("SELECT value FROM tokenver_meta WHERE key = 'signing_secret'")).rows[0].value as string;
  } finally {
    await client.end();
  }
}

for (const dialect of dialects()) {
  describe(`restart after kill -9 keeps users, versions and revocations (${dialect})`, () => {
    let dir: string;
    let database: TestDatabase;
    const running: RunningServer[] = [];

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "tokenver-restart-"));
      database = await createTestDatabase(dialect, join(dir, "tokenver.db"));
    });
    after(async () => {
      for (const server of running) await server.kill9();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    const start = async () => {
      // No TOKENVER_SECRET: the server must generate one and persist it.
      const server = await startCliServer({ TOKENVER_DATABASE_URL: database.url });
      running.push(server);
      return server;
    };

    test("revocations survive a crash right after the logout returned; the generated secret persists", async () => {
      const first = await start();
      const api = new Api(first.url);
      const phone = await api.register();
      const laptop = await api.login(phone.email, phone.password);
      const bystander = await api.register();
      assert.equal((await api.get("/profile", laptop.access)).status, 200);

      const logout = await api.post("/logout", { scope: "all" }, phone.access);
      assert.equal(logout.status, 204);
      // The last write before the crash is a login: its session must survive too.
      const lastLogin = await api.login(bystander.email, bystander.password);
      // A crash right after: nothing may still be waiting in a buffer or a cache.
      await first.kill9();
      const firstLog = first.stdout() + first.stderr();

      const second = await start();
      const api2 = new Api(second.url);
      for (const token of [phone.access, laptop.access]) {
        const response = await api2.get("/profile", token);
        assert.equal(response.status, 401, response.text);
        assert.equal(response.body.code, "token_revoked");
      }
      for (const refresh of [phone.refresh, laptop.refresh]) {
        const response = await api2.post("/token/refresh", { refresh });
        assert.equal(response.status, 401, response.text);
        assert.equal(response.body.code, "token_revoked");
      }

      // A token issued before the restart and never revoked still verifies: the secret persisted.
      const kept = await api2.get("/profile", bystander.access);
      assert.equal(kept.status, 200, kept.text);
      assert.equal(kept.body.id, bystander.user.id);
      assert.equal(kept.body.token_version, 0);
      assert.equal((await api2.post("/token/refresh", { refresh: bystander.refresh })).status, 200);
      assert.equal((await api2.get("/profile", lastLogin.access)).status, 200, "the last login's session survived");
      assert.equal((await api2.post("/token/refresh", { refresh: lastLogin.refresh })).status, 200);

      // The user and the incremented version are kept; a new login works with version 1.
      const again = await api2.login(phone.email, phone.password);
      assert.equal(again.user.id, phone.user.id);
      assert.equal(claimsOf(again.access).token_version, 1);
      const profile = await api2.get("/profile", again.access);
      assert.equal(profile.status, 200);
      assert.equal(profile.body.token_version, 1);

      // The first start warned about the generated secret; the restart reused it without a warning.
      assert.match(firstLog, /generated a signing secret/);
      assert.doesNotMatch(second.stdout() + second.stderr(), /generated a signing secret/);

      // No log line carries the secret, a token or a password.
      await second.stop();
      const secret = await storedSecret(database);
      assert.ok(secret.length >= 32);
      const logs = firstLog + second.stdout() + second.stderr();
      for (const value of [secret, phone.access, phone.refresh, laptop.refresh, bystander.access, phone.password]) {
        assert.ok(!logs.includes(value), "a secret, token or password is in the log");
      }
    });
  });
}

// The cases are independent processes: run them side by side (each start-up is mostly waiting).
describe("invalid settings stop `tokenver serve` with one line naming the variable", { concurrency: true }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tokenver-config-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const SHORT_SECRET = "short-secret-VALUE-31-bytes-xyz";
  const cases: Array<{ name: string; settings: () => Record<string, string>; variable: string; hidden?: string; says?: RegExp }> = [
    {
      name: "a secret shorter than 32 bytes",
      settings: () => ({ TOKENVER_SECRET: SHORT_SECRET }),
      variable: "TOKENVER_SECRET",
      hidden: SHORT_SECRET,
    },
    { name: "an unknown database scheme", settings: () => ({ TOKENVER_DATABASE_URL: "mysql://x" }), variable: "TOKENVER_DATABASE_URL" },
    { name: "a non-numeric access TTL", settings: () => ({ TOKENVER_ACCESS_TTL: "abc" }), variable: "TOKENVER_ACCESS_TTL" },
    { name: "a zero access TTL", settings: () => ({ TOKENVER_ACCESS_TTL: "0" }), variable: "TOKENVER_ACCESS_TTL" },
    {
      name: "a trust-proxy value that is none of its forms: the line names them",
      settings: () => ({ TOKENVER_TRUST_PROXY: "maybe" }),
      variable: "TOKENVER_TRUST_PROXY",
      says: /true, false, a hop count or proxy addresses/,
    },
    {
      name: "an unreachable PostgreSQL",
      settings: () => ({ TOKENVER_DATABASE_URL: "postgres://tokenver:hunter2-db-password@127.0.0.1:1/x" }),
      variable: "TOKENVER_DATABASE_URL",
      hidden: "hunter2-db-password",
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const settings = {
        HOST: "127.0.0.1",
        PORT: "0",
        TOKENVER_DATABASE_URL: `sqlite:${join(dir, `${c.variable}-${cases.indexOf(c)}.db`)}`,
        // A valid secret unless the case sets its own, so only the setting under test is wrong.
        TOKENVER_SECRET: "a-valid-secret-that-is-long-enough-0123456789",
        ...c.settings(),
      };
      const result = await runCli(["serve"], settings);
      assert.notEqual(result.code, 0, `exited ${result.code}: ${result.stderr}`);
      assert.notEqual(result.code, null, "it ended by itself, not by our timeout");
      const lines = result.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `one stderr line, got: ${result.stderr}`);
      assert.ok(lines[0]!.includes(c.variable), `names ${c.variable}: ${lines[0]}`);
      if (c.says !== undefined) assert.match(lines[0]!, c.says);
      const output = result.stdout + result.stderr;
      if (c.hidden !== undefined) assert.ok(!output.includes(c.hidden), "the value is never printed");
      assert.doesNotMatch(output, /\n\s+at |node_modules/, "no stack trace");
    });
  }
});
