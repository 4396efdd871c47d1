import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { dialects } from "./support/databases.js";
import { eventsWorld, PASSWORD, NEW_PASSWORD, type WireEvent } from "./support/events-world.js";
import { claimsOf } from "./support/server.js";

for (const dialect of dialects()) {
  describe(`security events (${dialect})`, () => {
    // A used refresh token presented at once is reuse here, not the grace of docs/api.md section 6.
    const world = eventsWorld(dialect, { refreshGrace: 0 });

    test("sign-ins, failed sign-ins and logouts are recorded with who, where and which session", async () => {
      const alice = await world.user();
      assert.equal((await world.login(alice.email, "not the right passphrase")).status, 401);
      world.secrets.add("not the right passphrase");
      const signedIn = await world.login(alice.email, PASSWORD, "laptop/2.0");
      assert.equal(signedIn.status, 200);
      const sid = claimsOf(signedIn.body.access).sid;

      assert.equal((await world.server.api.post("/logout", { scope: "session" }, alice.access)).status, 204);
      const events = await world.ownEvents(signedIn.body.access);
      assert.deepEqual(
        events.map((e) => e.type),
        ["logout", "login.succeeded", "login.failed"],
        "newest first",
      );
      const [logout, succeeded, failed] = events as [WireEvent, WireEvent, WireEvent];
      assert.deepEqual(Object.keys(succeeded).sort(), ["actor", "at", "detail", "id", "ip", "session_id", "type", "user_agent", "user_id"]);
      assert.equal(succeeded.user_id, alice.id);
      assert.equal(succeeded.session_id, sid);
      assert.equal(succeeded.actor, "self");
      assert.equal(succeeded.ip, "127.0.0.1");
      assert.equal(succeeded.user_agent, "laptop/2.0");
      assert.equal(new Date(succeeded.at).toISOString(), succeeded.at);
      assert.deepEqual(failed.detail, { reason: "wrong_password" });
      assert.equal(failed.session_id, null);
      assert.equal(logout.session_id, claimsOf(alice.access).sid, "the session that logged out");
      assert.deepEqual(logout.detail, { scope: "session", sessions: 1 });

      // Scope all: the event outlives every token, and the next session sees it.
      assert.equal((await world.server.api.post("/logout", {}, signedIn.body.access)).status, 204);
      const again = await world.login(alice.email);
      const latest = await world.ownEvents(again.body.access);
      assert.deepEqual(
        latest.slice(0, 2).map((e) => [e.type, e.detail.scope]),
        [
          ["login.succeeded", undefined],
          ["logout", "all"],
        ],
      );
    });

    test("a failed sign-in for an unknown account stores no user and nothing that was typed", async () => {
      // People type passwords into the email field.
      const typed = `${"correct-horse-battery"}-${Date.now()}@example.com`;
      world.secrets.add(typed);
      assert.equal((await world.login(typed, "what they typed as a password")).status, 401);
      world.secrets.add("what they typed as a password");
      await world.server.auth.flushEvents();
      const rows = await world.store.db
        .selectFrom("tokenver_events")
        .selectAll()
        .where("type", "=", "login.failed")
        .where("user_id", "is", null)
        .execute();
      assert.ok(rows.length >= 1);
      assert.deepEqual(JSON.parse(rows.at(-1)!.detail), { reason: "unknown_account" });
      for (const row of rows) assert.ok(!JSON.stringify(row).includes("correct-horse-battery"));
    });

    test("revoking a session, refresh-token reuse and a password change are recorded", async () => {
      const bob = await world.user();
      const phone = await world.login(bob.email, PASSWORD, "phone/1.0");
      const phoneSid = claimsOf(phone.body.access).sid;
      assert.equal((await world.server.api.request("DELETE", `/sessions/${phoneSid}`, { token: bob.access })).status, 204);

      // Reuse: the first refresh token twice.
      const rotated = await world.server.api.post("/token/refresh", { refresh: bob.refresh });
      assert.equal(rotated.status, 200);
      world.secrets.add(rotated.body.access).add(rotated.body.refresh);
      const reused = await world.server.api.post("/token/refresh", { refresh: bob.refresh });
      assert.equal(reused.body.code, "refresh_reused");

      const fresh = await world.login(bob.email);
      const third = await world.login(bob.email);
      const changed = await world.server.api.post(
        "/password",
        { current_password: PASSWORD, new_password: NEW_PASSWORD },
        fresh.body.access,
      );
      assert.equal(changed.status, 200, changed.text);
      world.secrets.add(changed.body.access).add(changed.body.refresh);
      assert.equal(third.status, 200);

      const events = await world.ownEvents(changed.body.access);
      const byType = new Map(events.map((e) => [e.type, e]));
      const revoked = byType.get("session.revoked")!;
      assert.equal(revoked.session_id, phoneSid, "the revoked session, not the caller's");
      assert.deepEqual(revoked.detail, { reason: "user", current: false });
      const reuse = byType.get("refresh.reused")!;
      assert.equal(reuse.session_id, claimsOf(bob.access).sid);
      assert.equal(reuse.actor, "system");
      const password = byType.get("password.changed")!;
      assert.equal(password.session_id, claimsOf(fresh.body.access).sid);
      assert.equal(password.actor, "self");
      assert.ok((password.detail.revoked_sessions as number) >= 1, "the third session was revoked");
    });

    test("five wrong current passwords in a session revoke it, recorded as the server's act", async () => {
      const carol = await world.user();
      for (let i = 0; i < 5; i++) {
        await world.server.api.post("/password", { current_password: `wrong guess number ${i}`, new_password: NEW_PASSWORD }, carol.access);
        world.secrets.add(`wrong guess number ${i}`);
      }
      const next = await world.login(carol.email);
      const revoked = (await world.ownEvents(next.body.access)).find((e) => e.type === "session.revoked");
      assert.ok(revoked !== undefined);
      assert.equal(revoked.session_id, claimsOf(carol.access).sid);
      assert.equal(revoked.actor, "system");
      assert.deepEqual(revoked.detail, { reason: "password_guessing" });
    });

    test("the events table holds none of the passwords and tokens these tests used", async () => {
      await world.server.auth.flushEvents();
      const rows = await world.store.db.selectFrom("tokenver_events").selectAll().execute();
      assert.ok(rows.length > 10);
      const text = JSON.stringify(rows);
      for (const secret of world.secrets) {
        assert.ok(!text.includes(secret), "a secret in the events table");
        // The halves of a refresh token, and the signature of an access token.
        for (const part of secret.split(".")) if (part.length >= 20) assert.ok(!text.includes(part), "part of a token in the events table");
      }
      assert.deepEqual(
        world.warnings.filter((w) => w.includes("security events")),
        [],
        "no event was lost",
      );
    });
  });
}
