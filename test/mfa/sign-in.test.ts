import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "../support/databases.js";
import { enrolled, mailTo, mfaToken, startMfaWorld, type MfaWorld } from "../support/mfa.js";
import { claimsOf } from "../support/server.js";
import { totpAt } from "../support/totp.js";

for (const dialect of dialects()) {
  describe(`second factor: sign-in (${dialect})`, () => {
    let world: MfaWorld;
    before(async () => {
      world = await startMfaWorld(dialect);
    });
    after(async () => {
      await world?.close();
    });

    test("the right password answers 403 mfa_required with an mfa_token and no-store; the code signs in like /login, amr pwd otp mfa", async () => {
      const api = world.server.api;
      const who = await enrolled(world);
      const login = await api.post("/login", { email: who.email, password: who.password });
      assert.equal(login.status, 403, login.text);
      assert.match(login.headers.get("content-type") ?? "", /^application\/problem\+json/);
      assert.equal(login.headers.get("cache-control"), "no-store");
      assert.equal(login.body.code, "mfa_required");
      assert.equal(login.body.access, undefined);
      assert.equal(login.body.refresh, undefined);
      assert.match(login.body.mfa_token, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
      // Stored hashed: the secret half is nowhere in the table.
      const rows = await world.store.db.selectFrom("tokenver_mfa_challenges").selectAll().where("user_id", "=", who.user.id).execute();
      assert.ok(rows.every((r) => !JSON.stringify(r).includes(login.body.mfa_token.split(".")[1])));

      const done = await api.post("/login/mfa", { mfa_token: login.body.mfa_token, code: totpAt(who.secret, world.now(), 1) });
      assert.equal(done.status, 200, done.text);
      assert.equal(done.headers.get("cache-control"), "no-store");
      assert.deepEqual(Object.keys(done.body).sort(), ["access", "expires_in", "refresh", "token_type", "user"]);
      assert.equal(done.body.token_type, "Bearer");
      assert.equal(done.body.user.mfa_enabled, true);
      assert.equal(done.body.user.recovery_codes_left, 10);
      assert.deepEqual(claimsOf(done.body.access).amr, ["pwd", "otp", "mfa"]);
      const principal = await world.server.auth.verify(`Bearer ${done.body.access}`);
      assert.deepEqual(principal.claims.amr, ["pwd", "otp", "mfa"]);
      // Kept across refreshes.
      world.advance(1000);
      const refreshed = await api.post("/token/refresh", { refresh: done.body.refresh });
      assert.equal(refreshed.status, 200, refreshed.text);
      assert.deepEqual(claimsOf(refreshed.body.access).amr, ["pwd", "otp", "mfa"]);
      const again = await api.post("/token/refresh", { refresh: refreshed.body.refresh });
      assert.deepEqual(claimsOf(again.body.access).amr, ["pwd", "otp", "mfa"]);
      // Single use: the token is spent.
      const reuse = await api.post("/login/mfa", { mfa_token: login.body.mfa_token, code: totpAt(who.secret, world.now(), 1) });
      assert.equal(reuse.status, 401);
      assert.equal(reuse.body.code, "mfa_token_invalid");
      // A password sign-in without a second factor: amr pwd, across refresh.
      const plain = await api.register();
      assert.deepEqual(claimsOf(plain.access).amr, ["pwd"]);
      const plainRefresh = await api.post("/token/refresh", { refresh: plain.refresh });
      assert.deepEqual(claimsOf(plainRefresh.body.access).amr, ["pwd"]);
    });

    test("drift: codes of T-1 and T+1 are accepted, T+2 and T-2 are not; a used step is never accepted again", async () => {
      const api = world.server.api;
      const who = await enrolled(world); // used step T
      world.advance(60_000); // now T+2
      const token = await mfaToken(world, who);
      for (const offset of [2, -2]) {
        const r = await api.post("/login/mfa", { mfa_token: token, code: totpAt(who.secret, world.now(), offset) });
        assert.equal(r.status, 401, `offset ${offset}`);
        assert.equal(r.body.code, "code_invalid");
      }
      const previous = await api.post("/login/mfa", { mfa_token: token, code: totpAt(who.secret, world.now(), -1) });
      assert.equal(previous.status, 200, previous.text);
      // The same code (step T+1) again, on a new challenge: replay.
      const replay = await api.post("/login/mfa", { mfa_token: await mfaToken(world, who), code: totpAt(who.secret, world.now(), -1) });
      assert.equal(replay.status, 401);
      assert.equal(replay.body.code, "code_invalid");
      const next = await api.post("/login/mfa", { mfa_token: await mfaToken(world, who), code: totpAt(who.secret, world.now(), 1) });
      assert.equal(next.status, 200, next.text);
      // Step T+3 is used: the current step (T+2) is now behind it.
      const behind = await api.post("/login/mfa", { mfa_token: await mfaToken(world, who), code: totpAt(who.secret, world.now()) });
      assert.equal(behind.status, 401);
    });

    test("an mfa_token expires after 300 seconds", async () => {
      const api = world.server.api;
      const who = await enrolled(world);
      const token = await mfaToken(world, who);
      world.advance(300_000);
      const late = await api.post("/login/mfa", { mfa_token: token, code: totpAt(who.secret, world.now()) });
      assert.equal(late.status, 401);
      assert.equal(late.body.code, "mfa_token_invalid");
      assert.match(late.headers.get("www-authenticate") ?? "", /^Bearer realm="tokenver"/);
      const made = await api.post("/login/mfa", { mfa_token: "x".repeat(22) + "." + "y".repeat(43), code: "123456" });
      assert.equal(made.body.code, "mfa_token_invalid");
    });

    test("five wrong codes end the mfa_token; the first failure mails the user", async () => {
      const api = world.server.api;
      const who = await enrolled(world);
      const token = await mfaToken(world, who);
      for (let i = 0; i < 5; i++) {
        const r = await api.post("/login/mfa", {
          mfa_token: token,
          code: "000000" === totpAt(who.secret, world.now(), 1) ? "111111" : "000000",
        });
        assert.equal(r.status, 401, `attempt ${i + 1}`);
        assert.equal(r.body.code, "code_invalid");
      }
      const right = await api.post("/login/mfa", { mfa_token: token, code: totpAt(who.secret, world.now(), 1) });
      assert.equal(right.status, 401);
      assert.equal(right.body.code, "mfa_token_invalid");
      const mail = await mailTo(world.smtp, who.email, /failed at the second step/);
      assert.match(mail.text, /change it/);
      await world.server.auth.flushEvents();
      const failed = await world.store.db
        .selectFrom("tokenver_events")
        .select("id")
        .where("user_id", "=", who.user.id)
        .where("type", "=", "mfa.failed")
        .execute();
      assert.equal(failed.length, 5);
      // A fresh challenge still works with the right code.
      const fresh = await api.post("/login/mfa", { mfa_token: await mfaToken(world, who), code: totpAt(who.secret, world.now(), 1) });
      assert.equal(fresh.status, 200, fresh.text);
    });

    test("the same code sent twice at once: exactly one sign-in (one token, and two tokens)", async () => {
      const api = world.server.api;
      const who = await enrolled(world);
      const code = totpAt(who.secret, world.now(), 1);
      const token = await mfaToken(world, who);
      const same = await Promise.all([1, 2, 3].map(() => api.post("/login/mfa", { mfa_token: token, code })));
      assert.equal(same.filter((r) => r.status === 200).length, 1, same.map((r) => r.status).join());
      world.advance(30_000);
      const code2 = totpAt(who.secret, world.now(), 1);
      const tokens = await Promise.all([1, 2, 3].map(() => mfaToken(world, who)));
      const two = await Promise.all(tokens.map((t) => api.post("/login/mfa", { mfa_token: t, code: code2 })));
      assert.equal(two.filter((r) => r.status === 200).length, 1, two.map((r) => r.status).join());
      for (const r of two.filter((r) => r.status !== 200)) assert.equal(r.body.code, "code_invalid");
    });

    test("a recovery code signs in once (amr pwd mfa), concurrently too, and its use is mailed", async () => {
      const api = world.server.api;
      const who = await enrolled(world);
      const code = who.recoveryCodes[0]!;
      const ok = await api.post("/login/mfa", { mfa_token: await mfaToken(world, who), code: code.toLowerCase() });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(claimsOf(ok.body.access).amr, ["pwd", "mfa"]);
      assert.equal(ok.body.user.recovery_codes_left, 9);
      const refreshed = await api.post("/token/refresh", { refresh: ok.body.refresh });
      assert.deepEqual(claimsOf(refreshed.body.access).amr, ["pwd", "mfa"]);
      const again = await api.post("/login/mfa", { mfa_token: await mfaToken(world, who), code });
      assert.equal(again.status, 401);
      assert.equal(again.body.code, "code_invalid");
      await mailTo(world.smtp, who.email, /recovery code was used/);
      const tokens = await Promise.all([1, 2, 3].map(() => mfaToken(world, who)));
      const racing = await Promise.all(tokens.map((t) => api.post("/login/mfa", { mfa_token: t, code: who.recoveryCodes[1] })));
      assert.equal(racing.filter((r) => r.status === 200).length, 1, racing.map((r) => r.status).join());
      assert.equal((await api.get("/profile", ok.body.access)).body.recovery_codes_left, 8);
    });

    test("an mfa_token is bound to the mode of its /login and to the token version", async () => {
      const auth = world.server.auth;
      const who = await enrolled(world);
      const fromCookie = await auth.login({ email: who.email, password: who.password }, { mode: "cookie" }).catch((e: any) => e);
      assert.equal(fromCookie.code, "mfa_required");
      const asBearer = await auth
        .loginMfa({ mfaToken: fromCookie.members.mfa_token, code: totpAt(who.secret, world.now(), 1) })
        .catch((e: any) => e);
      assert.equal(asBearer.code, "mfa_token_invalid");
      const token = await mfaToken(world, who);
      // Logout everywhere moves the version: the pending sign-in dies.
      assert.equal((await world.server.api.post("/logout", {}, who.access)).status, 204);
      const after = await world.server.api.post("/login/mfa", { mfa_token: token, code: totpAt(who.secret, world.now(), 1) });
      assert.equal(after.status, 401);
      assert.equal(after.body.code, "mfa_token_invalid");
    });
  });

  describe(`second factor: throttling (${dialect})`, () => {
    let world: MfaWorld;
    before(async () => {
      world = await startMfaWorld(dialect);
    });
    after(async () => {
      await world?.close();
    });

    test("at most 10 wrong codes per account per hour across challenges, then 429 with Retry-After", async () => {
      const api = world.server.api;
      const who = await enrolled(world);
      const wrong = totpAt(who.secret, world.now(), 1) === "000000" ? "111111" : "000000";
      let t = "";
      for (let i = 0; i < 10; i++) {
        // Two challenges of five failures each (a sixth would be mfa_token_invalid).
        if (i % 5 === 0) t = await mfaToken(world, who);
        const r = await api.post("/login/mfa", { mfa_token: t, code: wrong });
        assert.equal(r.status, 401, `failure ${i + 1}: ${r.text}`);
      }
      const token = await mfaToken(world, who);
      const limited = await api.post("/login/mfa", { mfa_token: token, code: totpAt(who.secret, world.now(), 1) });
      assert.equal(limited.status, 429, limited.text);
      assert.equal(limited.body.code, "rate_limited");
      assert.ok(Number(limited.headers.get("retry-after")) > 0);
      world.advance(3_600_000);
      const later = await api.post("/login/mfa", { mfa_token: await mfaToken(world, who), code: totpAt(who.secret, world.now()) });
      assert.equal(later.status, 200, later.text);
    });
  });

  describe(`second factor: wrong codes count toward the login throttle (${dialect})`, () => {
    let world: MfaWorld;
    before(async () => {
      world = await startMfaWorld(dialect, { accountFailures: 3 });
    });
    after(async () => {
      await world?.close();
    });

    test("three wrong codes, then /login for the account is 429", async () => {
      const api = world.server.api;
      const who = await enrolled(world);
      const token = await mfaToken(world, who);
      const wrong = totpAt(who.secret, world.now(), 1) === "000000" ? "111111" : "000000";
      for (let i = 0; i < 3; i++) assert.equal((await api.post("/login/mfa", { mfa_token: token, code: wrong })).status, 401);
      const login = await api.post("/login", { email: who.email, password: who.password });
      assert.equal(login.status, 429, login.text);
    });

    test("the right password alone does not reset the account's count; a completed sign-in does", async () => {
      const api = world.server.api;
      const who = await enrolled(world);
      // The password right, the code never given: each counts against the account.
      await mfaToken(world, who);
      await mfaToken(world, who);
      const token = await mfaToken(world, who);
      const done = await api.post("/login/mfa", { mfa_token: token, code: totpAt(who.secret, world.now(), 1) });
      assert.equal(done.status, 200, done.text);
      // Reset by the completed sign-in: three more password steps pass.
      for (let i = 0; i < 3; i++) await mfaToken(world, who);
      const fourth = await api.post("/login", { email: who.email, password: who.password });
      assert.equal(fourth.status, 429, fourth.text);
    });
  });
}
