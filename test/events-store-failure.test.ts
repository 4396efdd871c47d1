import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { sql } from "kysely";
import { openStore, type Store } from "../src/store/database.js";
import { createTestDatabase, dialects, type TestDatabase } from "./support/databases.js";
import { startServer, type TestServer } from "./support/server.js";

// Recording an event is never part of the request: a table that is locked or gone leaves the
// request's answer as it was (docs/operations.md, "Events and webhooks").
for (const dialect of dialects()) {
  describe(`security events when their table fails (${dialect})`, () => {
    let dir: string;
    let database: TestDatabase;
    let server: TestServer;
    let store: Store;
    const warnings: string[] = [];

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "tokenver-events-fail-"));
      database = await createTestDatabase(dialect, join(dir, "events.db"));
      server = await startServer({ dialect, databaseUrl: database.url, sqliteLock: false, onWarning: (m) => warnings.push(m) });
      store = await openStore(database.url);
    });
    after(async () => {
      await store?.close();
      await server?.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    if (dialect === "postgres") {
      test("a sign-in answers while the events table is locked; its event is written once the lock goes", async () => {
        const user = await server.api.register();
        const locker = new pg.Client({ connectionString: database.url });
        await locker.connect();
        try {
          await locker.query("BEGIN");
          await locker.query("LOCK TABLE tokenver_events IN ACCESS EXCLUSIVE MODE");
          const login = await server.api.post("/login", { email: user.email, password: user.password });
          assert.equal(login.status, 200, "the request did not wait for its event");
          const written = server.auth.eventStats().written;
          await locker.query("ROLLBACK");
          await server.auth.flushEvents();
          assert.equal(server.auth.eventStats().written, written + 1);
        } finally {
          await locker.end();
        }
      });
    }

    test("with the events table gone, requests still succeed; the loss is logged and counted", async () => {
      const user = await server.api.register();
      await sql`DROP TABLE tokenver_events`.execute(store.db);
      const before = server.auth.eventStats();

      const login = await server.api.post("/login", { email: user.email, password: user.password });
      assert.equal(login.status, 200);
      const wrong = await server.api.post("/login", { email: user.email, password: "not the passphrase at all" });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.code, "invalid_credentials");
      assert.equal((await server.api.post("/logout", {}, login.body.access)).status, 204);
      await server.auth.flushEvents();

      const after = server.auth.eventStats();
      assert.equal(after.recorded - before.recorded, 3);
      assert.equal(after.failed - before.failed, 3, "every event of the three requests counted as lost");
      assert.ok(warnings.some((w) => /security events: \d+ could not be written/.test(w)));
      for (const w of warnings) {
        assert.ok(!w.includes(user.password) && !w.includes(user.email) && !w.includes("not the passphrase"), "no content in the log line");
      }
      // Reading them is a store failure like any other: 503, never an empty list.
      const list = await server.api.get("/events", login.body.access);
      assert.equal(list.status, 401, "the token was logged out");
      const again = await server.api.login(user.email, user.password);
      const unavailable = await server.api.get("/events", again.access);
      assert.equal(unavailable.status, 503);
      assert.equal(unavailable.body.code, "service_unavailable");
    });
  });
}
