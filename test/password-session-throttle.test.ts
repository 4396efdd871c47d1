import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects, POSTGRES_URL, REDIS_URL, redisTestPrefix, type DialectName } from "./support/databases.js";
import { startServer, uniqueEmail, type ApiResponse, type TestServer } from "./support/server.js";

// docs/api.md sections 3 and 8: a signed-in user's own POST /password is never blocked by failed
// logins that others made against the account; re-checks of the password count their failures
// per session: 5 failures within 15 minutes revoke that session (401 token_revoked from then on).

const NEW_PASSWORD = "a brand new and unguessable passphrase";
const WRONG = "definitely not the password";

function variants(): Array<{ name: string; dialect: DialectName; redis: boolean }> {
  const list = dialects().map((dialect) => ({ name: dialect as string, dialect, redis: false }));
  if (POSTGRES_URL && REDIS_URL) list.push({ name: "postgres + redis", dialect: "postgres", redis: true });
  return list;
}

function assertCode(response: ApiResponse, status: number, code: string, what: string) {
  assert.equal(response.status, status, `${what}: ${response.text}`);
  assert.equal(response.body?.code, code, `${what}: code`);
}

for (const variant of variants()) {
  describe(`POST /password counts its failures per session (${variant.name})`, () => {
    let server: TestServer;
    let now = Date.parse("2030-05-01T08:00:00Z");
    before(async () => {
      server = await startServer({
        dialect: variant.dialect,
        trustProxy: true,
        // The login limits of the attack: 10 failures per account, and a low one per address.
        rateLimit: { accountFailures: 10, addressFailures: 10, windowSeconds: 900 },
        ...(variant.redis ? { redisUrl: REDIS_URL!, redisPrefix: redisTestPrefix() } : { clock: () => now }),
      });
    });
    after(() => server.close());

    const changePassword = (access: string, current: string, from?: string) =>
      server.api.request("POST", "/password", {
        body: { current_password: current, new_password: NEW_PASSWORD },
        token: access,
        ...(from === undefined ? {} : { headers: { "x-forwarded-for": from } }),
      });
    const login = (email: string, password: string, from: string) =>
      server.api.request("POST", "/login", { body: { email, password }, headers: { "x-forwarded-for": from } });

    test("ten wrong logins by someone else against the account do not block the owner's POST /password", async () => {
      const { api } = server;
      const owner = await api.register();
      // From the owner's own address too (a shared NAT): neither the account's counter nor the
      // address's takes part in the owner's re-check.
      const shared = "203.0.113.66";
      for (let i = 1; i <= 10; i++) assertCode(await login(owner.email, WRONG, shared), 401, "invalid_credentials", `guess ${i}`);
      assertCode(await login(owner.email, owner.password, shared), 429, "rate_limited", "logins of the account are locked");
      assertCode(await login(uniqueEmail(), WRONG, shared), 429, "rate_limited", "and logins from the address");

      assertCode(await changePassword(owner.access, WRONG, shared), 403, "invalid_credentials", "the owner's own typo");
      const changed = await changePassword(owner.access, owner.password, shared);
      assert.equal(changed.status, 200, changed.text);
      assert.equal((await api.get("/profile", changed.body.access)).status, 200);
    });

    test("4 wrong current passwords are 403; the 5th revokes the session: 401 token_revoked from then on", async () => {
      const { api } = server;
      const user = await api.register();
      const other = await api.login(user.email, user.password);
      for (let i = 1; i <= 4; i++)
        assertCode(await changePassword(user.access, `${WRONG} ${i}`), 403, "invalid_credentials", `failure ${i}`);
      const fifth = await changePassword(user.access, `${WRONG} 5`);
      assertCode(fifth, 401, "token_revoked", "the 5th failure");
      assert.match(fifth.headers.get("www-authenticate") ?? "", /error="invalid_token"/);

      assertCode(await api.get("/profile", user.access), 401, "token_revoked", "the session's access token");
      assertCode(await api.post("/token/refresh", { refresh: user.refresh }), 401, "token_revoked", "the session's refresh token");
      assertCode(await changePassword(user.access, user.password), 401, "token_revoked", "even with the right password");

      // Only that session: the user's other session and their logins are untouched, and the other
      // session has a counter of its own.
      assert.equal((await api.get("/profile", other.access)).status, 200, "another session of the user");
      assert.equal((await api.get("/profile", other.access)).body.token_version, 0, "no version change");
      assertCode(await changePassword(other.access, WRONG), 403, "invalid_credentials", "the other session's first failure");
      assert.equal((await api.post("/login", { email: user.email, password: user.password })).status, 200, "login still works");
    });

    test("a right password gives its attempt back but forgives no failure: 4 wrong, right, wrong revokes", async () => {
      const { api } = server;
      const user = await api.register();
      for (let i = 1; i <= 4; i++) assertCode(await changePassword(user.access, WRONG), 403, "invalid_credentials", `failure ${i}`);
      const changed = await changePassword(user.access, user.password);
      assert.equal(changed.status, 200, changed.text);
      // The same session continues with the new pair, and with its failures.
      assertCode(await changePassword(changed.body.access, WRONG), 401, "token_revoked", "the 5th failure of the session");
      assertCode(await api.get("/profile", changed.body.access), 401, "token_revoked", "the session is revoked");
    });

    test("parallel guesses cannot overtake the limit: at most 4 are 403, the session ends", async () => {
      const { api } = server;
      const user = await api.register();
      const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => changePassword(user.access, `${WRONG} ${i}`)));
      const forbidden = responses.filter((r) => r.status === 403);
      const revoked = responses.filter((r) => r.status === 401);
      assert.equal(forbidden.length + revoked.length, 12, responses.map((r) => r.status).join(" "));
      assert.ok(forbidden.length <= 4, `${forbidden.length} guesses answered 403`);
      for (const r of revoked) assert.equal(r.body.code, "token_revoked");
      assertCode(await api.get("/profile", user.access), 401, "token_revoked", "the session is revoked");
    });

    if (!variant.redis) {
      test("failures older than 15 minutes no longer count", async () => {
        const { api } = server;
        const user = await api.register(uniqueEmail());
        for (let i = 1; i <= 4; i++) assertCode(await changePassword(user.access, WRONG), 403, "invalid_credentials", `failure ${i}`);
        now += 15 * 60 * 1000;
        // The access token lives 15 minutes too: refresh it (same session, same counter).
        const refreshed = await api.post("/token/refresh", { refresh: user.refresh });
        assert.equal(refreshed.status, 200, refreshed.text);
        for (let i = 1; i <= 4; i++) {
          assertCode(await changePassword(refreshed.body.access, WRONG), 403, "invalid_credentials", `failure ${i} of a new window`);
        }
        assertCode(await changePassword(refreshed.body.access, WRONG), 401, "token_revoked", "the 5th of the new window");
      });
    }
  });
}
