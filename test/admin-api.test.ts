import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "./support/databases.js";
import { Api, claimsOf, startServer, uniqueEmail, type TestServer } from "./support/server.js";

// The admin API of docs/api.md section 10 over real HTTP, on every dialect: the role read from
// the database on every request, 403 forbidden for others, disable/enable/logout/delete, the
// last-admin rule, and the listing's pagination and literal search.

const PASSWORD = "a long and unguessable passphrase";

for (const dialect of dialects()) {
  describe(`admin API (${dialect})`, () => {
    let server: TestServer;
    let api: Api;
    let admin: Awaited<ReturnType<Api["register"]>>;

    before(async () => {
      server = await startServer({ dialect });
      api = server.api;
      admin = await api.register();
      await server.auth.setRole(admin.user.id, "admin");
    });
    after(() => server?.close());

    const call = (method: string, path: string, token: string) => api.request(method, path, { token });

    test("a non-admin gets 403 forbidden on every admin route; no token 401", async () => {
      const user = await api.register();
      const routes: Array<[string, string]> = [
        ["GET", "/admin/users"],
        ["GET", `/admin/users/${admin.user.id}`],
        ["POST", `/admin/users/${admin.user.id}/disable`],
        ["POST", `/admin/users/${admin.user.id}/enable`],
        ["POST", `/admin/users/${admin.user.id}/logout`],
        ["DELETE", `/admin/users/${admin.user.id}`],
      ];
      for (const [method, path] of routes) {
        const refused = await call(method, path, user.access);
        assert.equal(refused.status, 403, `${method} ${path}`);
        assert.equal(refused.body.code, "forbidden");
        assert.match(refused.headers.get("content-type") ?? "", /application\/problem\+json/);
        assert.equal((await api.request(method, path)).status, 401);
      }
      // Refused before its query string is looked at: nothing about the route leaks to a non-admin.
      assert.equal((await call("GET", "/admin/users?limit=abc", user.access)).body.code, "forbidden");
      // The admin was left alone.
      assert.equal((await api.get("/profile", admin.access)).status, 200);
    });

    test("the user view carries role and disabled", async () => {
      const profile = await api.get("/profile", admin.access);
      assert.equal(profile.body.role, "admin");
      assert.equal(profile.body.disabled, false);
      const user = await api.register();
      assert.equal((user.user as Record<string, unknown>).role, "user");
    });

    test("the role is read from the database: a demoted admin's still-valid token is refused at once", async () => {
      const second = await api.register();
      await server.auth.setRole(second.user.id, "admin");
      assert.equal((await call("GET", "/admin/users", second.access)).status, 200);
      await server.auth.setRole(second.user.id, "user");
      const refused = await call("GET", "/admin/users", second.access);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.code, "forbidden");
      // The token itself is still good for the user's own routes.
      assert.equal((await api.get("/profile", second.access)).status, 200);
    });

    test("GET /admin/users/:id: the user and their live sessions; unknown id 404", async () => {
      const user = await api.register();
      const second = await api.login(user.email, user.password);
      const detail = await call("GET", `/admin/users/${user.user.id}`, admin.access);
      assert.equal(detail.status, 200, detail.text);
      assert.equal(detail.body.user.id, user.user.id);
      assert.equal(detail.body.user.email, user.email);
      assert.equal(detail.body.user.password_hash, undefined);
      const ids = detail.body.sessions.map((s: { id: string }) => s.id).sort();
      assert.deepEqual(ids, [claimsOf(user.access).sid, claimsOf(second.access).sid].sort());
      for (const s of detail.body.sessions)
        assert.deepEqual(Object.keys(s).sort(), ["created_at", "id", "ip", "last_used_at", "user_agent"]);
      for (const id of ["no-such-user", "x".repeat(80)]) {
        const missing = await call("GET", `/admin/users/${id}`, admin.access);
        assert.equal(missing.status, 404);
        assert.equal(missing.body.code, "not_found");
      }
    });

    test("disable: every token dies at once, sign-in and refresh 403 account_disabled; enable lets sign-in back", async () => {
      const user = await api.register();
      const other = await api.login(user.email, user.password);
      assert.equal((await api.get("/profile", user.access)).status, 200);
      const disabled = await call("POST", `/admin/users/${user.user.id}/disable`, admin.access);
      assert.equal(disabled.status, 204, disabled.text);
      for (const token of [user.access, other.access]) {
        const refused = await api.get("/profile", token);
        assert.equal(refused.status, 401);
        assert.equal(refused.body.code, "token_revoked");
      }
      const login = await api.post("/login", { email: user.email, password: user.password });
      assert.equal(login.status, 403);
      assert.equal(login.body.code, "account_disabled");
      const refresh = await api.post("/token/refresh", { refresh: other.refresh });
      assert.equal(refresh.status, 403);
      assert.equal(refresh.body.code, "account_disabled");
      // A wrong password is still the same invalid_credentials: disabling reveals nothing without it.
      assert.equal((await api.post("/login", { email: user.email, password: "not the password at all" })).body.code, "invalid_credentials");
      const seen = await call("GET", `/admin/users/${user.user.id}`, admin.access);
      assert.equal(seen.body.user.disabled, true);
      assert.deepEqual(seen.body.sessions, []);
      assert.equal(seen.body.user.token_version, 1);

      assert.equal((await call("POST", `/admin/users/${user.user.id}/enable`, admin.access)).status, 204);
      const back = await api.login(user.email, user.password);
      assert.equal((await api.get("/profile", back.access)).body.disabled, false);
      // What the disabling revoked stays revoked.
      assert.equal((await api.get("/profile", user.access)).body.code, "token_revoked");
      assert.equal((await api.post("/token/refresh", { refresh: other.refresh })).body.code, "token_revoked");
    });

    test("logout: version incremented, every token of the user refused at once", async () => {
      const user = await api.register();
      const other = await api.login(user.email, user.password);
      assert.equal((await call("POST", `/admin/users/${user.user.id}/logout`, admin.access)).status, 204);
      for (const token of [user.access, other.access]) assert.equal((await api.get("/profile", token)).body.code, "token_revoked");
      const again = await api.login(user.email, user.password);
      assert.equal(claimsOf(again.access).token_version, 1);
      assert.equal((await api.get("/profile", again.access)).status, 200);
      assert.equal((await call("POST", `/admin/users/no-such-user/logout`, admin.access)).status, 404);
    });

    test("delete: the account and its tokens are gone; the email can register again", async () => {
      const user = await api.register();
      assert.equal((await call("DELETE", `/admin/users/${user.user.id}`, admin.access)).status, 204);
      const refused = await api.get("/profile", user.access);
      assert.equal(refused.status, 401);
      assert.ok(["token_revoked", "token_invalid"].includes(refused.body.code), refused.text);
      assert.equal((await call("GET", `/admin/users/${user.user.id}`, admin.access)).status, 404);
      assert.equal((await api.post("/login", { email: user.email, password: user.password })).body.code, "invalid_credentials");
      assert.equal((await call("DELETE", `/admin/users/${user.user.id}`, admin.access)).status, 404);
      await api.register(user.email);
    });

    test("the last enabled admin cannot be disabled, demoted or deleted; with a second one, it can", async () => {
      const admins = await server.auth.listUsers({ limit: 100 });
      // Only the suite's admin is an enabled admin here (demoted ones were demoted).
      assert.deepEqual(
        admins.users.filter((u) => u.role === "admin" && !u.disabled).map((u) => u.id),
        [admin.user.id],
      );
      for (const [method, path] of [
        ["POST", `/admin/users/${admin.user.id}/disable`],
        ["DELETE", `/admin/users/${admin.user.id}`],
      ] as const) {
        const refused = await call(method, path, admin.access);
        assert.equal(refused.status, 403, `${method} ${path}`);
        assert.equal(refused.body.code, "forbidden");
      }
      await assert.rejects(server.auth.setRole(admin.user.id, "user"), { code: "forbidden" });
      await assert.rejects(server.auth.disableUser(admin.user.id), { code: "forbidden" });
      await assert.rejects(server.auth.deleteUser(admin.user.id), { code: "forbidden" });
      assert.equal((await api.get("/profile", admin.access)).body.role, "admin", "nothing changed, nothing revoked");

      // A disabled admin does not count: it cannot act.
      const sleeper = await api.register();
      await server.auth.setRole(sleeper.user.id, "admin");
      await server.auth.disableUser(sleeper.user.id);
      await assert.rejects(server.auth.setRole(admin.user.id, "user"), { code: "forbidden" });

      const deputy = await api.register();
      await server.auth.setRole(deputy.user.id, "admin");
      // Now the first may be demoted (by the deputy), and then the deputy is the last.
      await server.auth.setRole(admin.user.id, "user");
      assert.equal((await call("GET", "/admin/users", admin.access)).status, 403);
      const refused = await call("POST", `/admin/users/${deputy.user.id}/disable`, deputy.access);
      assert.equal(refused.body.code, "forbidden");
      await server.auth.setRole(admin.user.id, "admin");
      await server.auth.setRole(deputy.user.id, "user");
    });

    test("two concurrent demotions of the last two admins: exactly one succeeds", async () => {
      for (let round = 0; round < 5; round++) {
        const other = await api.register();
        await server.auth.setRole(other.user.id, "admin");
        const results = await Promise.allSettled([server.auth.setRole(admin.user.id, "user"), server.auth.setRole(other.user.id, "user")]);
        assert.equal(results.filter((r) => r.status === "fulfilled").length, 1, `round ${round}`);
        const left = (await server.auth.listUsers({ limit: 100 })).users.filter((u) => u.role === "admin" && !u.disabled);
        assert.equal(left.length, 1);
        // Put the suite's admin back as the only one.
        if (left[0]!.id !== admin.user.id) {
          await server.auth.setRole(admin.user.id, "admin");
          await server.auth.setRole(other.user.id, "user");
        }
      }
    });

    test("two admins disabling each other at once: exactly one wins, the other's request is refused (never a deadlock's 503)", async () => {
      // Each action checks its admin again inside its transaction, after the admins' lock: the
      // loser sees itself disabled, whichever wins.
      for (let round = 0; round < 5; round++) {
        const [a, b] = [await api.register(), await api.register()];
        for (const x of [a, b]) await server.auth.setRole(x.user.id, "admin");
        const answers = await Promise.all([
          call("POST", `/admin/users/${b.user.id}/disable`, a.access),
          call("POST", `/admin/users/${a.user.id}/disable`, b.access),
        ]);
        // The loser is refused wherever it meets the winner's commit: authentication (401
        // token_revoked), the route's role check (403 forbidden) or its action's transaction (401).
        const what = `round ${round}: ${JSON.stringify(answers.map((r) => r.body))}`;
        assert.equal(answers.filter((r) => r.status === 204).length, 1, what);
        const loser = answers.find((r) => r.status !== 204)!;
        assert.ok(
          (loser.status === 401 && loser.body.code === "token_revoked") || (loser.status === 403 && loser.body.code === "forbidden"),
          what,
        );
        const detail = await Promise.all([a, b].map((x) => server.auth.getUserDetail(x.user.id)));
        assert.deepEqual(detail.map((d) => d.user.disabled).sort(), [false, true], "exactly one of them disabled");
      }
    });

    test("GET /admin/users: newest first, cursor pages that neither repeat nor skip, literal search", async () => {
      const tag = `q${Date.now()}`;
      const emails = [
        `${tag}-plain@example.com`,
        `${tag}-100%@example.com`,
        `${tag}-a_b@example.com`,
        `${tag}-axb@example.com`,
        `${tag}-back\\slash@example.com`,
      ];
      const created: string[] = [];
      for (const email of emails) {
        const response = await api.post("/register", { email, password: PASSWORD });
        // Some of these are not valid addresses everywhere: keep the ones the server took.
        if (response.status === 201) created.push(response.body.user.id);
      }
      const named = await api.register(uniqueEmail(), PASSWORD, { username: `${tag} 50%_off` });
      created.push(named.user.id);

      const search = async (query: string) => {
        const response = await call("GET", `/admin/users?query=${encodeURIComponent(query)}&limit=100`, admin.access);
        assert.equal(response.status, 200, response.text);
        return (response.body.users as Array<{ id: string; email: string; username: string | null }>).map((u) => u.email);
      };
      assert.equal((await search(tag)).length, created.length);
      // `_` and `%` are plain characters, not LIKE wildcards.
      const underscore = await search(`${tag}-a_b`);
      assert.deepEqual(underscore, [`${tag}-a_b@example.com`]);
      if (created.length === emails.length + 1) {
        assert.deepEqual(await search(`${tag}-100%`), [`${tag}-100%@example.com`]);
        assert.deepEqual(await search(`${tag}-back\\`), [`${tag}-back\\slash@example.com`]);
      }
      // A lone `%` finds only addresses that hold one, never everybody.
      const percent = await call("GET", `/admin/users?query=%25&limit=100`, admin.access);
      assert.ok(percent.body.users.length >= 1);
      for (const u of percent.body.users) assert.ok(`${u.email} ${u.username}`.includes("%"), u.email);
      // The username, ignoring case.
      assert.deepEqual(await search(`${tag.toUpperCase()} 50%_OFF`), [named.email]);
      assert.deepEqual(await search(`${tag} 50%x`), []);

      // Pages of 2 over the tag: newest first, every user once.
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const url: string = `/admin/users?query=${tag}&limit=2${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`;
        const response = await call("GET", url, admin.access);
        assert.equal(response.status, 200, response.text);
        assert.deepEqual(Object.keys(response.body).sort(), ["next_cursor", "users"]);
        assert.ok(response.body.users.length <= 2);
        seen.push(...response.body.users.map((u: { id: string }) => u.id));
        cursor = response.body.next_cursor;
        pages++;
      } while (cursor !== null && pages < 20);
      assert.deepEqual(seen, [...created].reverse());

      // An impossible day (Date.parse takes it, PostgreSQL's timestamptz does not) is a 400 too, not a 500.
      const impossibleDay = Buffer.from(JSON.stringify(["2030-02-30T00:00:00.000Z", "id"])).toString("base64url");
      for (const bad of ["limit=0", "limit=101", "limit=abc", "cursor=nonsense!", "cursor=WzFd", `cursor=${impossibleDay}`]) {
        const refused = await call("GET", `/admin/users?${bad}`, admin.access);
        assert.equal(refused.status, 400, bad);
        assert.equal(refused.body.code, "validation_failed");
      }
      assert.equal((await call("GET", "/admin/users?limit=100", admin.access)).status, 200);
    });

    test("the server-side API finds users by id and by email as login normalises it", async () => {
      const email = uniqueEmail();
      const user = await api.register(email);
      assert.equal((await server.auth.findUserByEmail(`  ${email.toUpperCase()} `))?.id, user.user.id);
      assert.equal((await server.auth.findUserById(user.user.id))?.email, email);
      assert.equal(await server.auth.findUserById("nobody"), null);
      assert.equal(await server.auth.findUserByEmail("nobody@example.com"), null);
      assert.equal(await server.auth.findUserByEmail("\ud800@example.com"), null);
      const found = (await server.auth.findUserById(user.user.id)) as Record<string, unknown>;
      assert.equal(found.password_hash, undefined);
      assert.equal(found.passwordHash, undefined);
    });

    test("the server-side API revokes one session, leaving the others", async () => {
      const user = await api.register();
      const second = await api.login(user.email, user.password);
      await server.auth.revokeUserSession(user.user.id, claimsOf(second.access).sid, { actor: "system" });
      assert.equal((await api.get("/profile", second.access)).body.code, "token_revoked");
      assert.equal((await api.get("/profile", user.access)).status, 200);
      await assert.rejects(server.auth.revokeUserSession(user.user.id, claimsOf(second.access).sid), { code: "not_found" });
      await assert.rejects(server.auth.revokeUserSession(admin.user.id, claimsOf(user.access).sid), { code: "not_found" });
      assert.equal((await api.get("/profile", user.access)).status, 200, "another user's session id is never revoked");
    });
  });
}
