import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "../support/databases.js";
import { enrolled, mailTo, mfaToken, startMfaWorld, type MfaWorld } from "../support/mfa.js";
import { totpAt } from "../support/totp.js";

/**
 * "Five wrong codes end the mfa_token" (docs/api.md section 9) must hold for codes sent at once:
 * each attempt reserves its place in the challenge's count before its code is checked, so parallel
 * requests cannot all be checked against a count read before any of them failed. Over HTTP the
 * requests interleave on PostgreSQL (each query waits on the network); through the library
 * (`auth.loginMfa`, many calls started at once) they interleave on every dialect.
 */
for (const dialect of dialects()) {
  describe(`second factor: wrong codes sent at once (${dialect})`, () => {
    let world: MfaWorld;
    before(async () => {
      world = await startMfaWorld(dialect);
    });
    after(async () => {
      await world?.close();
    });

    test("12 wrong codes at once on one mfa_token: 5 are checked, the rest are mfa_token_invalid; the token is dead", async () => {
      const api = world.server.api;
      const who = await enrolled(world);
      const right = totpAt(who.secret, world.now(), 1);
      const wrong = right === "000000" ? "111111" : "000000";
      const token = await mfaToken(world, who);
      const answers = await Promise.all(Array.from({ length: 12 }, () => api.post("/login/mfa", { mfa_token: token, code: wrong })));
      const summary = answers.map((r) => `${r.status} ${r.body?.code}`).join(", ");
      for (const r of answers) assert.equal(r.status, 401, summary);
      const checked = answers.filter((r) => r.body.code === "code_invalid").length;
      assert.ok(checked <= 5, `at most 5 codes checked: ${summary}`);
      assert.equal(checked, 5, summary);
      assert.equal(answers.filter((r) => r.body.code === "mfa_token_invalid").length, 12 - checked, summary);
      const row = await world.store.db
        .selectFrom("tokenver_mfa_challenges")
        .select(["failures", "used_at"])
        .where("user_id", "=", who.user.id)
        .executeTakeFirstOrThrow();
      assert.equal(Number(row.failures), 5);
      assert.equal(row.used_at, null);
      // Dead, even for the right code.
      const late = await api.post("/login/mfa", { mfa_token: token, code: right });
      assert.equal(late.status, 401, late.text);
      assert.equal(late.body.code, "mfa_token_invalid");
      await world.server.auth.flushEvents();
      const failed = await world.store.db
        .selectFrom("tokenver_events")
        .select("id")
        .where("user_id", "=", who.user.id)
        .where("type", "=", "mfa.failed")
        .execute();
      assert.equal(failed.length, 5);
      await mailTo(world.smtp, who.email, /failed at the second step/);

      // The refused requests used none of the account's 10 wrong codes an hour: 5 more are checked, then 429.
      const fresh = await mfaToken(world, who);
      for (let i = 0; i < 5; i++) {
        const r = await api.post("/login/mfa", { mfa_token: fresh, code: wrong });
        assert.equal(r.status, 401, `failure ${i + 6}: ${r.text}`);
        assert.equal(r.body.code, "code_invalid");
      }
      const limited = await api.post("/login/mfa", { mfa_token: await mfaToken(world, who), code: right });
      assert.equal(limited.status, 429, limited.text);
    });

    test("12 wrong codes at once through the library: 5 are checked, the rest are mfa_token_invalid", async () => {
      const auth = world.server.auth;
      const who = await enrolled(world);
      const right = totpAt(who.secret, world.now(), 1);
      const wrong = right === "000000" ? "111111" : "000000";
      const token = await mfaToken(world, who);
      const outcomes = await attempts(
        world,
        token,
        Array.from({ length: 12 }, () => wrong),
      );
      assert.equal(outcomes.filter((o) => o === "code_invalid").length, 5, outcomes.join());
      assert.equal(outcomes.filter((o) => o === "mfa_token_invalid").length, 7, outcomes.join());
      const late = await auth.loginMfa({ mfaToken: token, code: right }).catch((e: any) => e);
      assert.equal(late.code, "mfa_token_invalid");
    });
  });

  describe(`second factor: the fifth attempt may be the right one (${dialect})`, () => {
    let world: MfaWorld;
    before(async () => {
      world = await startMfaWorld(dialect);
    });
    after(async () => {
      await world?.close();
    });

    test("four wrong codes, then the right one signs in (the attempt that reserved the last place)", async () => {
      const api = world.server.api;
      const who = await enrolled(world);
      const right = totpAt(who.secret, world.now(), 1);
      const wrong = right === "000000" ? "111111" : "000000";
      const token = await mfaToken(world, who);
      for (let i = 0; i < 4; i++) {
        const r = await api.post("/login/mfa", { mfa_token: token, code: wrong });
        assert.equal(r.body.code, "code_invalid", `attempt ${i + 1}`);
      }
      const done = await api.post("/login/mfa", { mfa_token: token, code: right });
      assert.equal(done.status, 200, done.text);
      const again = await api.post("/login/mfa", { mfa_token: token, code: right });
      assert.equal(again.body.code, "mfa_token_invalid");
    });

    test("wrong codes and the right one at once on one mfa_token: never more than 5 checked, at most one sign-in", async () => {
      const who = await enrolled(world);
      const right = totpAt(who.secret, world.now(), 1);
      const wrong = right === "000000" ? "111111" : "000000";
      const token = await mfaToken(world, who);
      const codes = [wrong, wrong, wrong, right, wrong, wrong, wrong, wrong];
      const outcomes = await attempts(world, token, codes);
      const signedIn = outcomes.filter((o) => o === "signed in").length;
      const wrongChecked = outcomes.filter((o) => o === "code_invalid").length;
      assert.ok(signedIn <= 1, outcomes.join());
      assert.ok(signedIn + wrongChecked <= 5, outcomes.join());
      assert.equal(outcomes.filter((o) => o === "mfa_token_invalid").length, codes.length - signedIn - wrongChecked, outcomes.join());
    });
  });
}

/** Calls `auth.loginMfa` once per code, all started at once; resolves to each outcome (an error code or "signed in"). */
function attempts(world: MfaWorld, token: string, codes: string[]): Promise<string[]> {
  return Promise.all(
    codes.map((code) =>
      world.server.auth.loginMfa({ mfaToken: token, code }).then(
        () => "signed in",
        (error: any) => String(error?.code),
      ),
    ),
  );
}
