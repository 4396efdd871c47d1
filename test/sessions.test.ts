import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { dialects } from "./support/databases.js";
import { claimsOf, startServer, uniqueEmail, type Api, type TestServer } from "./support/server.js";

const PASSWORD = "a long and unguessable passphrase";

/** Logs in with a given User-Agent, as a second device would. */
async function loginAs(api: Api, email: string, userAgent: string) {
  const response = await api.request("POST", "/login", { body: { email, password: PASSWORD }, headers: { "user-agent": userAgent } });
  assert.equal(response.status, 200, response.text);
  return response.body as { access: string; refresh: string };
}

async function registerAs(api: Api, userAgent: string) {
  const email = uniqueEmail();
  const response = await api.request("POST", "/register", { body: { email, password: PASSWORD }, headers: { "user-agent": userAgent } });
  assert.equal(response.status, 201, response.text);
  return { ...(response.body as { access: string; refresh: string; user: { id: string } }), email };
}

async function sessionsOf(api: Api, access: string) {
  const response = await api.get("/sessions", access);
  assert.equal(response.status, 200, response.text);
  return response.body.sessions as Array<{
    id: string;
    created_at: string;
    last_used_at: string;
    user_agent: string | null;
    current: boolean;
  }>;
}

function assertRevoked(response: { status: number; body: any }, what: string) {
  assert.equal(response.status, 401, what);
  assert.equal(response.body.code, "token_revoked", what);
}

for (const dialect of dialects()) {
  describe(`GET /sessions (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer({ dialect });
    });
    after(() => server.close());

    test("lists the caller's live sessions with their fields; current marks only the caller's", async () => {
      const { api } = server;
      const phone = await registerAs(api, "phone-agent/1.0");
      const laptop = await loginAs(api, phone.email, "laptop-agent/2.0");
      const list = await sessionsOf(api, laptop.access);

      assert.equal(list.length, 2);
      for (const s of list) {
        assert.deepEqual(Object.keys(s).sort(), ["created_at", "current", "id", "last_used_at", "user_agent"]);
        assert.ok(!Number.isNaN(Date.parse(s.created_at)) && !Number.isNaN(Date.parse(s.last_used_at)));
      }
      const byId = new Map(list.map((s) => [s.id, s]));
      const phoneSession = byId.get(claimsOf(phone.access).sid)!;
      const laptopSession = byId.get(claimsOf(laptop.access).sid)!;
      assert.equal(phoneSession.user_agent, "phone-agent/1.0");
      assert.equal(laptopSession.user_agent, "laptop-agent/2.0");
      assert.equal(laptopSession.current, true);
      assert.equal(phoneSession.current, false);

      // Seen from the phone, `current` moves to the phone's session.
      const fromPhone = await sessionsOf(api, phone.access);
      assert.deepEqual(
        fromPhone.filter((s) => s.current).map((s) => s.id),
        [claimsOf(phone.access).sid],
      );
    });

    test("an empty User-Agent is recorded as null", async () => {
      const { api } = server;
      const user = await registerAs(api, "ua");
      // fetch always sends one; an empty header is the closest to "none" it can send.
      const bare = await api.request("POST", "/login", {
        body: { email: user.email, password: PASSWORD },
        headers: { "user-agent": "  " },
      });
      assert.equal(bare.status, 200);
      const mine = (await sessionsOf(api, bare.body.access)).find((s) => s.current)!;
      assert.equal(mine.user_agent, null);
    });

    test("revoked sessions and other users' sessions are not listed", async () => {
      const { api } = server;
      const user = await registerAs(api, "first");
      const second = await loginAs(api, user.email, "second");
      const third = await loginAs(api, user.email, "third");
      const stranger = await registerAs(api, "stranger");

      assert.equal((await api.post("/logout", { scope: "session" }, second.access)).status, 204);
      assert.equal((await api.request("DELETE", `/sessions/${claimsOf(third.access).sid}`, { token: user.access })).status, 204);

      const list = await sessionsOf(api, user.access);
      assert.deepEqual(
        list.map((s) => s.id),
        [claimsOf(user.access).sid],
      );
      assert.ok(!list.some((s) => s.id === claimsOf(stranger.access).sid));
    });

    test("sessions left behind by a version change are not listed", async () => {
      const { api } = server;
      const user = await registerAs(api, "old");
      assert.equal((await api.post("/logout", {}, user.access)).status, 204);
      const fresh = await loginAs(api, user.email, "new");
      assert.deepEqual(
        (await sessionsOf(api, fresh.access)).map((s) => s.user_agent),
        ["new"],
      );
    });

    test("requires a bearer token", async () => {
      const response = await server.api.get("/sessions");
      assert.equal(response.status, 401);
      assert.equal(response.body.code, "token_missing");
    });
  });

  describe(`GET /sessions with an injected clock (${dialect})`, () => {
    let server: TestServer;
    let now = Date.parse("2030-01-01T00:00:00Z");
    before(async () => {
      server = await startServer({ dialect, accessTtl: 30, refreshTtl: 60, clock: () => now });
    });
    after(() => server.close());

    test("last_used_at follows refreshes, and expired sessions are not listed", async () => {
      const { api } = server;
      const old = await registerAs(api, "old device");
      now += 20_000;
      const refreshed = await api.post("/token/refresh", { refresh: old.refresh });
      assert.equal(refreshed.status, 200);
      const [only] = await sessionsOf(api, refreshed.body.access);
      assert.equal(only!.created_at, "2030-01-01T00:00:00.000Z");
      assert.equal(only!.last_used_at, "2030-01-01T00:00:20.000Z");

      // The old session's refresh window ends at 00:01:20; a new login at 00:01:00 outlives it.
      now += 40_000;
      const fresh = await loginAs(api, old.email, "new device");
      now += 25_000;
      assert.deepEqual(
        (await sessionsOf(api, fresh.access)).map((s) => s.user_agent),
        ["new device"],
      );
    });
  });

  describe(`DELETE /sessions/:id (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer({ dialect });
    });
    after(() => server.close());

    test("204; the revoked session's access and refresh tokens die at once, the caller's live on", async () => {
      const { api } = server;
      const laptop = await registerAs(api, "laptop");
      const phone = await loginAs(api, laptop.email, "phone");
      assert.equal((await api.get("/profile", phone.access)).status, 200);

      const deleted = await api.request("DELETE", `/sessions/${claimsOf(phone.access).sid}`, { token: laptop.access });
      assert.equal(deleted.status, 204);
      assert.equal(deleted.text, "");

      assertRevoked(await api.get("/profile", phone.access), "the deleted session's access token");
      assertRevoked(await api.post("/token/refresh", { refresh: phone.refresh }), "the deleted session's refresh token");
      assert.equal((await api.get("/profile", laptop.access)).status, 200, "the caller's session lives on");
      assert.equal((await api.post("/token/refresh", { refresh: laptop.refresh })).status, 200);
    });

    test("deleting the caller's own session logs the caller out", async () => {
      const { api } = server;
      const user = await registerAs(api, "self");
      const own = await api.request("DELETE", `/sessions/${claimsOf(user.access).sid}`, { token: user.access });
      assert.equal(own.status, 204);
      assertRevoked(await api.get("/profile", user.access), "own access token");
    });

    test("another user's session and an unknown id give the same 404, and the other session keeps working", async () => {
      const { api } = server;
      const attacker = await registerAs(api, "attacker");
      const victim = await registerAs(api, "victim");

      const foreign = await api.request("DELETE", `/sessions/${claimsOf(victim.access).sid}`, { token: attacker.access });
      const unknown = await api.request("DELETE", `/sessions/${randomUUID()}`, { token: attacker.access });
      const odd = await api.request("DELETE", `/sessions/${"x".repeat(80)}`, { token: attacker.access });
      for (const response of [foreign, unknown, odd]) {
        assert.equal(response.status, 404);
        assert.equal(response.body.code, "not_found");
        assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/);
      }
      assert.deepEqual(foreign.body, unknown.body, "a foreign id must be indistinguishable from an unknown one");
      assert.equal(foreign.text, unknown.text);
      assert.deepEqual(odd.body, unknown.body);

      assert.equal((await api.get("/profile", victim.access)).status, 200, "the victim's access token still works");
      assert.equal((await api.post("/token/refresh", { refresh: victim.refresh })).status, 200, "and so does the refresh token");
    });

    test("an already revoked session is 404 like an unknown one", async () => {
      const { api } = server;
      const user = await registerAs(api, "a");
      const other = await loginAs(api, user.email, "b");
      const path = `/sessions/${claimsOf(other.access).sid}`;
      assert.equal((await api.request("DELETE", path, { token: user.access })).status, 204);
      const again = await api.request("DELETE", path, { token: user.access });
      assert.equal(again.status, 404);
      assert.equal(again.body.code, "not_found");
    });

    test("requires a bearer token", async () => {
      const response = await server.api.request("DELETE", `/sessions/${randomUUID()}`);
      assert.equal(response.status, 401);
      assert.equal(response.body.code, "token_missing");
    });
  });
}
