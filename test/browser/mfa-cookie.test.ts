import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "../support/databases.js";
import { startMfaWorld, type MfaWorld } from "../support/mfa.js";
import { claimsOf } from "../support/server.js";
import { totpAt } from "../support/totp.js";
import { ACCESS, CSRF, PASSWORD, REFRESH, assertProblem, pageHeaders, registerInCookieMode, sessionOf, setCookies } from "./helpers.js";

// Cookie mode meets the second factor (docs/api.md sections 6 and 9; docs/browser.md): turning it
// on or off moves the session's CSRF epoch and re-sets the CSRF cookie, and the second sign-in
// step answers in cookie mode like /login.
const ORIGIN = "http://127.0.0.1:3000";

for (const dialect of dialects()) {
  describe(`cookie mode and the second factor (${dialect})`, () => {
    let world: MfaWorld;
    before(async () => {
      world = await startMfaWorld(dialect);
    });
    after(async () => {
      await world?.close();
    });

    test("enrol and turn off in cookie mode: each moves the CSRF epoch and hands the page a new token; /login/mfa answers with cookies", async () => {
      const api = world.server.api;
      const session = await registerInCookieMode(api, ORIGIN);
      const start = await api.request("POST", "/mfa/totp", { headers: pageHeaders(ORIGIN, session) });
      assert.equal(start.status, 200, start.text);
      const secret = start.body.secret as string;
      const confirm = await api.request("POST", "/mfa/totp/confirm", {
        body: { code: totpAt(secret, world.now()), password: PASSWORD },
        headers: pageHeaders(ORIGIN, session),
      });
      assert.equal(confirm.status, 200, confirm.text);
      const renewed = setCookies(confirm).get(CSRF);
      assert.ok(renewed !== undefined, "the CSRF cookie is re-set");
      const patch = (csrf: string) =>
        api.request("PATCH", "/profile", { body: { username: "m" }, headers: pageHeaders(ORIGIN, { access: session.access, csrf }) });
      assertProblem(await patch(session.csrf), 403, "csrf_failed", "a CSRF token of before the second factor");
      assert.equal((await patch(renewed.value)).status, 200);

      // Sign-in in cookie mode: 403 mfa_required, then /login/mfa in cookie mode sets the cookies.
      const login = await api.request("POST", "/login", {
        body: { email: session.email, password: PASSWORD },
        headers: { origin: ORIGIN, "tokenver-mode": "cookie" },
      });
      assert.equal(login.status, 403, login.text);
      assert.equal(login.body.code, "mfa_required");
      assert.equal(login.headers.getSetCookie().length, 0);
      world.advance(30_000);
      const done = await api.request("POST", "/login/mfa", {
        body: { mfa_token: login.body.mfa_token, code: totpAt(secret, world.now()) },
        headers: { origin: ORIGIN, "tokenver-mode": "cookie" },
      });
      assert.equal(done.status, 200, done.text);
      assert.deepEqual(Object.keys(done.body).sort(), ["csrf_token", "expires_in", "token_type", "user"]);
      assert.equal(done.body.token_type, "cookie");
      const second = sessionOf(done);
      assert.deepEqual([...setCookies(done).keys()].sort(), [ACCESS, CSRF, REFRESH].sort());
      assert.deepEqual(claimsOf(second.access).amr, ["pwd", "otp", "mfa"]);
      // The page of the new session turns the factor off: its CSRF epoch moves on too.
      world.advance(30_000);
      const off = await api.request("DELETE", "/mfa/totp", {
        body: { password: PASSWORD, code: totpAt(secret, world.now()) },
        headers: pageHeaders(ORIGIN, second),
      });
      assert.equal(off.status, 204, off.text);
      const afterOff = setCookies(off).get(CSRF);
      assert.ok(afterOff !== undefined);
      const patchSecond = (csrf: string) =>
        api.request("PATCH", "/profile", { body: { username: "n" }, headers: pageHeaders(ORIGIN, { access: second.access, csrf }) });
      assertProblem(await patchSecond(second.csrf), 403, "csrf_failed", "a CSRF token of before turning it off");
      assert.equal((await patchSecond(afterOff.value)).status, 200);
      // A cookie-mode sign-in from a foreign page never reaches the password check.
      const foreign = await api.request("POST", "/login/mfa", {
        body: { mfa_token: login.body.mfa_token, code: "000000" },
        headers: { origin: "http://evil.example.test", "tokenver-mode": "cookie" },
      });
      assertProblem(foreign, 403, "csrf_failed", "cookie-mode /login/mfa from a foreign page");
    });
  });
}
