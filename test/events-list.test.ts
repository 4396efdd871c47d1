import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openStore, type Store } from "../src/store/database.js";
import { createTestDatabase, dialects, type TestDatabase } from "./support/databases.js";
import { claimsOf, startServer, uniqueEmail, type TestServer } from "./support/server.js";

const PASSWORD = "a long and unguessable passphrase";
const NEW_PASSWORD = "another long and unguessable passphrase";
const DAY = 86_400_000;

type WireEvent = {
  id: string;
  type: string;
  user_id: string | null;
  session_id: string | null;
  actor: string;
  ip: string | null;
  user_agent: string | null;
  at: string;
  detail: Record<string, unknown>;
};

async function ownEvents(server: TestServer, access: string): Promise<WireEvent[]> {
  const response = await server.api.get("/events", access);
  assert.equal(response.status, 200, response.text);
  return response.body.events;
}

for (const dialect of dialects()) {
  describe(`security events: lists and retention (${dialect})`, () => {
    let dir: string;
    let database: TestDatabase;
    let server: TestServer;
    let store: Store;
    let now = Date.now();
    const warnings: string[] = [];
    /** Every secret the tests typed or were given: none may appear in the events table. */
    const secrets = new Set<string>([PASSWORD, NEW_PASSWORD]);

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "tokenver-events-"));
      // A file, not :memory:, so the test reads the rows itself.
      database = await createTestDatabase(dialect, join(dir, "events.db"));
      server = await startServer({
        dialect,
        databaseUrl: database.url,
        sqliteLock: false,
        clock: () => (now += 1),
        onWarning: (m) => warnings.push(m),
        rateLimit: { accountFailures: 1000, addressFailures: 1000 },
      });
      store = await openStore(database.url);
    });
    after(async () => {
      await store?.close();
      await server?.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    async function user(userAgent = "events-test/1.0") {
      const email = uniqueEmail();
      const response = await server.api.request("POST", "/register", {
        body: { email, password: PASSWORD },
        headers: { "user-agent": userAgent },
      });
      assert.equal(response.status, 201, response.text);
      secrets.add(response.body.access).add(response.body.refresh);
      return {
        email,
        id: response.body.user.id as string,
        access: response.body.access as string,
        refresh: response.body.refresh as string,
      };
    }

    async function login(email: string, password = PASSWORD, userAgent = "events-test/1.0") {
      const response = await server.api.request("POST", "/login", { body: { email, password }, headers: { "user-agent": userAgent } });
      if (response.status === 200) secrets.add(response.body.access).add(response.body.refresh);
      return response;
    }

    test("GET /events shows only the caller's own, at most 50, and needs a bearer token", async () => {
      const dave = await user();
      const erin = await user();
      for (let i = 0; i < 3; i++) await server.api.post("/logout", { scope: "session" }, (await login(erin.email)).body.access);
      const daves = await ownEvents(server, dave.access);
      assert.ok(daves.every((e) => e.user_id === dave.id));
      const erins = await ownEvents(server, (await login(erin.email)).body.access);
      assert.ok(erins.length >= 6 && erins.length <= 50);
      assert.ok(erins.every((e) => e.user_id === erin.id));
      const times = erins.map((e) => e.at);
      assert.deepEqual(times, [...times].sort().reverse(), "newest first");
      const missing = await server.api.get("/events");
      assert.equal(missing.status, 401);
      assert.equal(missing.body.code, "token_missing");
    });

    test("the caller's last 50 only, newest first, when there are more", async () => {
      const frank = await user();
      // Rows written straight to the table: 60 events a millisecond apart.
      const base = now;
      await store.db
        .insertInto("tokenver_events")
        .values(
          Array.from({ length: 60 }, (_, i) => ({
            id: `seeded-${frank.id}-${String(i).padStart(2, "0")}`,
            type: "logout",
            user_id: frank.id,
            session_id: null,
            actor: "self",
            ip: null,
            user_agent: null,
            at: new Date(base - 60_000 + i).toISOString(),
            detail: JSON.stringify({ n: i }),
          })),
        )
        .execute();
      const events = await ownEvents(server, frank.access);
      assert.equal(events.length, 50);
      assert.deepEqual(
        events.slice(0, 2).map((e) => e.detail.n),
        [59, 58],
      );
      assert.equal(events.at(-1)!.detail.n, 10);
    });

    test("auth.listEvents(): filters by user and type, pages by cursor without repeats or gaps", async () => {
      const grace = await user();
      for (let i = 0; i < 3; i++) await login(grace.email, `wrong passphrase ${i}`);
      const failed = await server.auth.listEvents({ userId: grace.id, type: "login.failed" });
      assert.equal(failed.events.length, 3);
      assert.ok(failed.events.every((e) => e.userId === grace.id && e.type === "login.failed"));
      assert.equal(failed.nextCursor, null);

      const seen = new Set<string>();
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await server.auth.listEvents({ cursor });
        for (const e of page.events) {
          assert.ok(!seen.has(e.id), "no event on two pages");
          seen.add(e.id);
        }
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null);
      const total = await store.db
        .selectFrom("tokenver_events")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      assert.equal(seen.size, Number(total.n), "every event once");
      assert.ok(pages >= 2);
      await assert.rejects(server.auth.listEvents({ cursor: "not-a-cursor" }), { code: "validation_failed" });
    });

    test("events older than the retention go with the prune; newer ones stay", async () => {
      const heidi = await user();
      await server.api.post("/logout", { scope: "session" }, heidi.access);
      await server.auth.flushEvents();
      now += 91 * DAY;
      const recent = await login(heidi.email);
      const removed = await server.auth.prune();
      assert.ok(removed.events >= 1);
      const left = await ownEvents(server, recent.body.access);
      assert.deepEqual(
        left.map((e) => e.type),
        ["login.succeeded"],
      );
    });
  });
}
