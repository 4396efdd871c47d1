import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "../support/databases.js";
import { enrolled, mailTo, startMfaWorld, type MfaWorld } from "../support/mfa.js";
import { claimsOf } from "../support/server.js";
import { base32Decode, totpAt } from "../support/totp.js";

for (const dialect of dialects()) {
  describe(`second factor: enrolment and removal (${dialect})`, () => {
    let world: MfaWorld;
    before(async () => {
      world = await startMfaWorld(dialect);
    });
    after(async () => {
      await world?.close();
    });

    test("POST /mfa/totp answers a 160-bit base32 secret, its otpauth URL and an SVG QR code; the secret rests sealed", async () => {
      const api = world.server.api;
      const reg = await api.register();
      const start = await api.post("/mfa/totp", undefined, reg.access);
      assert.equal(start.status, 200, start.text);
      assert.equal(start.headers.get("cache-control"), "no-store");
      const { secret, otpauth_url, qr_svg } = start.body;
      assert.match(secret, /^[A-Z2-7]{32}$/);
      assert.equal(base32Decode(secret).length, 20);
      const url = new URL(otpauth_url);
      assert.equal(url.protocol, "otpauth:");
      assert.equal(url.host, "totp");
      assert.equal(url.searchParams.get("secret"), secret);
      assert.match(qr_svg, /^<svg[\s\S]*<\/svg>\s*$/);
      const row = await world.store.db.selectFrom("tokenver_totp").selectAll().where("user_id", "=", reg.user.id).executeTakeFirstOrThrow();
      assert.equal(row.enabled_at, null);
      assert.ok(!row.secret.includes(secret) && !Buffer.from(row.secret, "base64url").toString("latin1").includes(secret));
      // Not on yet: the profile says so, and login needs no code.
      const profile = await api.get("/profile", reg.access);
      assert.equal(profile.body.mfa_enabled, false);
      assert.equal(profile.body.recovery_codes_left, 0);
      assert.equal((await api.post("/login", { email: reg.email, password: reg.password })).status, 200);
    });

    test("confirming: a wrong code is 400 code_invalid, a wrong password 403 invalid_credentials; then on, with 10 recovery codes, others revoked, mailed", async () => {
      const api = world.server.api;
      const reg = await api.register();
      const other = await api.login(reg.email, reg.password);
      const { secret } = (await api.post("/mfa/totp", undefined, reg.access)).body;
      const code = totpAt(secret, world.now());
      const wrongCode = await api.post("/mfa/totp/confirm", { code: totpAt(secret, world.now(), 3), password: reg.password }, reg.access);
      assert.equal(wrongCode.status, 400, wrongCode.text);
      assert.equal(wrongCode.body.code, "code_invalid");
      const wrongPassword = await api.post("/mfa/totp/confirm", { code, password: "not the password at all" }, reg.access);
      assert.equal(wrongPassword.status, 403, wrongPassword.text);
      assert.equal(wrongPassword.body.code, "invalid_credentials");
      assert.equal((await api.get("/profile", other.access)).status, 200);

      const confirm = await api.post("/mfa/totp/confirm", { code, password: reg.password }, reg.access);
      assert.equal(confirm.status, 200, confirm.text);
      assert.equal(confirm.headers.get("cache-control"), "no-store");
      const codes: string[] = confirm.body.recovery_codes;
      assert.equal(codes.length, 10);
      for (const c of codes) assert.match(c, /^[A-Z2-7]{10}$/);
      assert.equal(new Set(codes).size, 10);
      // Stored as HMACs only.
      const rows = await world.store.db.selectFrom("tokenver_recovery_codes").selectAll().where("user_id", "=", reg.user.id).execute();
      assert.equal(rows.length, 10);
      for (const r of rows) {
        assert.match(r.code_hash, /^[0-9a-f]{64}$/);
        assert.ok(!codes.some((c) => r.code_hash.includes(c)));
      }
      const profile = await api.get("/profile", reg.access);
      assert.equal(profile.status, 200, "the enabling session continues");
      assert.equal(profile.body.mfa_enabled, true);
      assert.equal(profile.body.recovery_codes_left, 10);
      const revoked = await api.get("/profile", other.access);
      assert.equal(revoked.status, 401);
      assert.equal(revoked.body.code, "token_revoked");
      // The same code again: that step was used.
      const again = await api.post("/mfa/totp", undefined, reg.access);
      assert.equal(again.status, 409);
      assert.equal(again.body.code, "mfa_enabled");
      const mail = await mailTo(world.smtp, reg.email, /Two-step sign-in is on/);
      assert.ok(!mail.text.includes(secret));
      await world.server.auth.flushEvents();
      const types = (await api.get("/events", reg.access)).body.events.map((e: { type: string }) => e.type);
      assert.ok(types.includes("mfa.enabled"), String(types));
      assert.ok(types.includes("mfa.failed"), "the wrong code while enrolling is recorded");
    });

    test("DELETE /mfa/totp: wrong password 403 invalid_credentials, wrong code 403 code_invalid; then off, others revoked, mailed", async () => {
      const api = world.server.api;
      const who = await enrolled(world);
      // A second session, signed in with the second factor.
      const token = (await api.post("/login", { email: who.email, password: who.password })).body.mfa_token;
      const other = await api.post("/login/mfa", { mfa_token: token, code: totpAt(who.secret, world.now(), 1) });
      assert.equal(other.status, 200, other.text);
      world.advance(30_000);
      const code = totpAt(who.secret, world.now(), 1);
      const wrongPassword = await api.request("DELETE", "/mfa/totp", {
        body: { password: "not the password at all", code },
        token: who.access,
      });
      assert.equal(wrongPassword.status, 403);
      assert.equal(wrongPassword.body.code, "invalid_credentials");
      const wrongCode = await api.request("DELETE", "/mfa/totp", { body: { password: who.password, code: "000000" }, token: who.access });
      assert.equal(wrongCode.status, 403);
      assert.equal(wrongCode.body.code, "code_invalid");
      const off = await api.request("DELETE", "/mfa/totp", { body: { password: who.password, code }, token: who.access });
      assert.equal(off.status, 204, off.text);
      const profile = await api.get("/profile", who.access);
      assert.equal(profile.body.mfa_enabled, false);
      assert.equal(profile.body.recovery_codes_left, 0);
      assert.equal((await api.get("/profile", other.body.access)).body.code, "token_revoked");
      const login = await api.post("/login", { email: who.email, password: who.password });
      assert.equal(login.status, 200, login.text);
      assert.deepEqual(claimsOf(login.body.access).amr, ["pwd"]);
      await mailTo(world.smtp, who.email, /Two-step sign-in is off/);
      assert.equal(
        (await world.store.db.selectFrom("tokenver_recovery_codes").select("id").where("user_id", "=", who.user.id).execute()).length,
        0,
      );
    });

    test("DELETE /mfa/totp with a recovery code; the use is mailed", async () => {
      const api = world.server.api;
      const who = await enrolled(world);
      const off = await api.request("DELETE", "/mfa/totp", {
        body: { password: who.password, code: who.recoveryCodes[3] },
        token: who.access,
      });
      assert.equal(off.status, 204, off.text);
      await mailTo(world.smtp, who.email, /recovery code was used/);
      await world.server.auth.flushEvents();
      const types = (await api.get("/events", who.access)).body.events.map((e: { type: string }) => e.type);
      for (const type of ["mfa.enabled", "mfa.recovery_used", "mfa.disabled"]) assert.ok(types.includes(type), `${type} in ${types}`);
      const rows = await world.store.db.selectFrom("tokenver_events").select("detail").where("user_id", "=", who.user.id).execute();
      for (const r of rows) for (const secret of [who.secret, who.password, ...who.recoveryCodes]) assert.ok(!r.detail.includes(secret));
    });

    test("POST /mfa/recovery-codes issues a new set; the old codes stop working", async () => {
      const api = world.server.api;
      const who = await enrolled(world);
      const renewed = await api.post(
        "/mfa/recovery-codes",
        { password: who.password, code: totpAt(who.secret, world.now(), 1) },
        who.access,
      );
      assert.equal(renewed.status, 200, renewed.text);
      const fresh: string[] = renewed.body.recovery_codes;
      assert.equal(fresh.length, 10);
      assert.equal(fresh.filter((c) => who.recoveryCodes.includes(c)).length, 0);
      const token = (await api.post("/login", { email: who.email, password: who.password })).body.mfa_token;
      const old = await api.post("/login/mfa", { mfa_token: token, code: who.recoveryCodes[0] });
      assert.equal(old.status, 401);
      assert.equal(old.body.code, "code_invalid");
      const ok = await api.post("/login/mfa", { mfa_token: token, code: fresh[0] });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.user.recovery_codes_left, 9);
      await mailTo(world.smtp, who.email, /New recovery codes/);
    });

    test("every endpoint that takes a code refuses a replayed step", async () => {
      const api = world.server.api;
      const who = await enrolled(world);
      // The confirmation used the current step: the same code, or the previous step's, is refused everywhere.
      for (const code of [totpAt(who.secret, world.now()), totpAt(who.secret, world.now(), -1)]) {
        const renew = await api.post("/mfa/recovery-codes", { password: who.password, code }, who.access);
        assert.equal(renew.status, 403, renew.text);
        assert.equal(renew.body.code, "code_invalid");
        const off = await api.request("DELETE", "/mfa/totp", { body: { password: who.password, code }, token: who.access });
        assert.equal(off.status, 403);
      }
      const next = totpAt(who.secret, world.now(), 1);
      assert.equal((await api.post("/mfa/recovery-codes", { password: who.password, code: next }, who.access)).status, 200);
      assert.equal((await api.post("/mfa/recovery-codes", { password: who.password, code: next }, who.access)).status, 403);
    });

    test("the password re-checks of these endpoints share the per-session counter: the 5th wrong one revokes the session", async () => {
      const api = world.server.api;
      const reg = await api.register();
      const { secret } = (await api.post("/mfa/totp", undefined, reg.access)).body;
      for (let i = 0; i < 4; i++) {
        const r = await api.post("/mfa/totp/confirm", { code: totpAt(secret, world.now()), password: `wrong password ${i}` }, reg.access);
        assert.equal(r.status, 403);
      }
      const fifth = await api.post("/mfa/totp/confirm", { code: totpAt(secret, world.now()), password: "wrong password 5" }, reg.access);
      assert.equal(fifth.status, 401);
      assert.equal(fifth.body.code, "token_revoked");
    });
  });
}
