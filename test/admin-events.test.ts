import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "./support/databases.js";
import { startServer, type TestServer } from "./support/server.js";

// GET /admin/events (docs/api.md section 10): every account's security events for an admin,
// newest first, filtered by user_id and type, a page at a time; 403 forbidden for anyone else.

for (const dialect of dialects()) {
  describe(`GET /admin/events (${dialect})`, () => {
    let server: TestServer;

    before(async () => {
      server = await startServer({ dialect });
    });
    after(() => server?.close());

    test("an admin reads every account's events, filtered and paged; others get 403", async () => {
      const { api, auth } = server;
      const admin = await api.register();
      await auth.setRole(admin.user.id, "admin");
      const alice = await api.register();
      const bob = await api.register();
      assert.equal((await api.post("/login", { email: alice.email, password: "not alice's password" })).status, 401);
      assert.equal((await api.post("/logout", undefined, bob.access)).status, 204);
      await auth.flushEvents();

      const refused = await api.get("/admin/events", alice.access);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.code, "forbidden");
      assert.equal((await api.get("/admin/events")).status, 401);

      const aliceOnly = await api.get(`/admin/events?user_id=${alice.user.id}`, admin.access);
      assert.equal(aliceOnly.status, 200, aliceOnly.text);
      assert.ok(aliceOnly.body.events.length >= 1);
      for (const e of aliceOnly.body.events) assert.equal(e.user_id, alice.user.id);
      assert.ok(aliceOnly.body.events.some((e: { type: string }) => e.type === "login.failed"));

      const logouts = await api.get("/admin/events?type=logout", admin.access);
      assert.equal(logouts.status, 200);
      assert.ok(logouts.body.events.some((e: { user_id: string }) => e.user_id === bob.user.id));
      for (const e of logouts.body.events) assert.equal(e.type, "logout");

      // Newest first; the cursor walks on without repeating an event.
      const all = await api.get("/admin/events", admin.access);
      const times = all.body.events.map((e: { at: string }) => e.at);
      assert.deepEqual(times, [...times].sort().reverse());
      if (all.body.next_cursor !== null) {
        const next = await api.get(`/admin/events?cursor=${encodeURIComponent(all.body.next_cursor)}`, admin.access);
        const seen = new Set(all.body.events.map((e: { id: string }) => e.id));
        for (const e of next.body.events) assert.ok(!seen.has(e.id));
      }
      const bad = await api.get("/admin/events?limit=abc&user_id=" + "x".repeat(65), admin.access);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, "validation_failed");
    });

    test("admin actions are recorded with who acted: the admin over HTTP, cli or system from code", async () => {
      const { api, auth } = server;
      const admin = await api.register();
      await auth.setRole(admin.user.id, "admin", { actor: "cli" });
      const carol = await api.register();
      for (const action of ["disable", "enable", "logout"]) {
        const answer = await api.post(`/admin/users/${carol.user.id}/${action}`, undefined, admin.access);
        assert.equal(answer.status, 204, answer.text);
      }
      await auth.setRole(carol.user.id, "admin");
      await auth.setRole(carol.user.id, "user", { actor: admin.user.id });
      const created = await auth.createUser(
        { email: `made-${carol.user.email}`, password: "a long and unguessable passphrase" },
        { actor: "cli" },
      );
      const login = await api.login(carol.email, carol.password);
      const sessionId = (await auth.verify(`Bearer ${login.access}`)).sessionId;
      await auth.revokeUserSession(carol.user.id, sessionId, { actor: admin.user.id });
      await auth.flushEvents();

      const events = (await api.get(`/admin/events?user_id=${carol.user.id}`, admin.access)).body.events as {
        type: string;
        actor: string;
        session_id: string | null;
      }[];
      const seen = events.map((e) => `${e.type} by ${e.actor}`).reverse();
      for (const expected of [
        `admin.disable by ${admin.user.id}`,
        `admin.enable by ${admin.user.id}`,
        `admin.logout by ${admin.user.id}`,
        "admin.promote by system",
        `admin.demote by ${admin.user.id}`,
        `session.revoked by ${admin.user.id}`,
      ]) {
        assert.ok(seen.includes(expected), `${expected} in ${seen.join(", ")}`);
      }
      assert.equal(events.find((e) => e.type === "session.revoked")?.session_id, sessionId);
      const adminEvents = (await api.get(`/admin/events?user_id=${admin.user.id}`, admin.access)).body.events as {
        type: string;
        actor: string;
      }[];
      assert.ok(adminEvents.some((e) => e.type === "admin.promote" && e.actor === "cli"));
      const createdEvents = (await api.get(`/admin/events?user_id=${created.id}`, admin.access)).body.events as {
        type: string;
        actor: string;
      }[];
      assert.deepEqual(
        createdEvents.map((e) => `${e.type} by ${e.actor}`),
        ["admin.create by cli"],
      );
    });
  });
}
