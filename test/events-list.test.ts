import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { dialects } from "./support/databases.js";
import { eventsWorld } from "./support/events-world.js";

const DAY = 86_400_000;

for (const dialect of dialects()) {
  describe(`security events: lists and retention (${dialect})`, () => {
    const world = eventsWorld(dialect);

    test("GET /events shows only the caller's own, at most 50, and needs a bearer token", async () => {
      const dave = await world.user();
      const erin = await world.user();
      for (let i = 0; i < 3; i++) await world.server.api.post("/logout", { scope: "session" }, (await world.login(erin.email)).body.access);
      const daves = await world.ownEvents(dave.access);
      assert.ok(daves.every((e) => e.user_id === dave.id));
      const erins = await world.ownEvents((await world.login(erin.email)).body.access);
      assert.ok(erins.length >= 6 && erins.length <= 50);
      assert.ok(erins.every((e) => e.user_id === erin.id));
      const times = erins.map((e) => e.at);
      assert.deepEqual(times, [...times].sort().reverse(), "newest first");
      const missing = await world.server.api.get("/events");
      assert.equal(missing.status, 401);
      assert.equal(missing.body.code, "token_missing");
    });

    test("the caller's last 50 only, newest first, when there are more", async () => {
      const frank = await world.user();
      // Rows written straight to the table: 60 events a millisecond apart.
      const base = world.now;
      await world.store.db
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
      const events = await world.ownEvents(frank.access);
      assert.equal(events.length, 50);
      assert.deepEqual(
        events.slice(0, 2).map((e) => e.detail.n),
        [59, 58],
      );
      assert.equal(events.at(-1)!.detail.n, 10);
    });

    test("auth.listEvents(): filters by user and type, pages by cursor without repeats or gaps", async () => {
      const grace = await world.user();
      for (let i = 0; i < 3; i++) await world.login(grace.email, `wrong passphrase ${i}`);
      const failed = await world.server.auth.listEvents({ userId: grace.id, type: "login.failed" });
      assert.equal(failed.events.length, 3);
      assert.ok(failed.events.every((e) => e.userId === grace.id && e.type === "login.failed"));
      assert.equal(failed.nextCursor, null);

      const seen = new Set<string>();
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await world.server.auth.listEvents({ cursor });
        for (const e of page.events) {
          assert.ok(!seen.has(e.id), "no event on two pages");
          seen.add(e.id);
        }
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null);
      const total = await world.store.db
        .selectFrom("tokenver_events")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      assert.equal(seen.size, Number(total.n), "every event once");
      assert.ok(pages >= 2);
      await assert.rejects(world.server.auth.listEvents({ cursor: "not-a-cursor" }), { code: "validation_failed" });
      // An impossible day (Date.parse takes it, PostgreSQL's timestamptz does not): refused before the query.
      const impossibleDay = Buffer.from(JSON.stringify(["2030-02-30T00:00:00.000Z", "e1"])).toString("base64url");
      await assert.rejects(world.server.auth.listEvents({ cursor: impossibleDay }), { code: "validation_failed" });
    });

    test("events older than the retention go with the prune; newer ones stay", async () => {
      const heidi = await world.user();
      await world.server.api.post("/logout", { scope: "session" }, heidi.access);
      await world.server.auth.flushEvents();
      world.now += 91 * DAY;
      const recent = await world.login(heidi.email);
      const removed = await world.server.auth.prune();
      assert.ok(removed.events >= 1);
      const left = await world.ownEvents(recent.body.access);
      assert.deepEqual(
        left.map((e) => e.type),
        ["login.succeeded"],
      );
    });
  });
}
