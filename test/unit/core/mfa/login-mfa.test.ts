// The second step of a sign-in (src/core/mfa/login-mfa.ts, challenge.ts, check-code.ts) over the real
// core and a real SQLite store in memory (./enrolled-core.ts), at unit speed: what the mfa_token
// accepts, what each refusal answers, what it counts against the account, what it mails and records.
// test/mfa/sign-in.test.ts and concurrent-failures.test.ts drive the same flow over HTTP.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { getUser } from "../../../../src/core/accounts/profile.js";
import { isoAt } from "../../../../src/core/clock.js";
import { AuthError } from "../../../../src/core/errors.js";
import { codeCandidate } from "../../../../src/core/mfa/check-code.js";
import { MFA_TOKEN_TTL_SECONDS, requireSecondFactor } from "../../../../src/core/mfa/challenge.js";
import { loginMfa } from "../../../../src/core/mfa/login-mfa.js";
import { logout } from "../../../../src/core/sessions/logout.js";
import { sealTotpSecret } from "../../../../src/core/mfa/totp.js";
import { SECOND_FACTOR_FAILURES } from "../../../../src/core/throttle.js";
import * as users from "../../../../src/store/queries/users.js";
import { rejectsWith } from "../../../support/account-core.js";
import { totpAt } from "../../../support/totp.js";
import { claimsOf, enrolled, mfaCore, mfaToken, wrongCode, type MfaCore } from "./enrolled-core.js";

const TOKEN_INVALID = "The mfa_token is unknown, used, expired or exhausted; sign in again.";

let world: MfaCore;
beforeEach(async () => {
  world = await mfaCore();
});
afterEach(() => world.close());

const challenges = (userId: string) =>
  world.store.db.selectFrom("tokenver_mfa_challenges").selectAll().where("user_id", "=", userId).orderBy("created_at").execute();

describe("the mfa_token", () => {
  test("requireSecondFactor answers mfa_required with the token and its detail; the row is bound to the version and the mode", async () => {
    const who = await enrolled(world);
    const user = await users.findUserById(world.store.db, who.userId);
    const required = await requireSecondFactor(world.mfaCore, user!, { mode: "cookie" });
    assert.equal(required.code, "mfa_required");
    assert.equal(required.message, "The password is right; a second-factor code is needed: POST /login/mfa with the mfa_token.");
    const [row] = await challenges(who.userId);
    assert.equal(row!.mode, "cookie");
    assert.equal(Number(row!.token_version), 0);
    assert.equal(row!.expires_at, isoAt(world.now() + MFA_TOKEN_TTL_SECONDS * 1000));
    assert.equal(required.members!.mfa_token!.split(".")[0], row!.id);
  });

  test("a known id with a wrong secret is mfa_token_invalid, and reserves no attempt", async () => {
    const who = await enrolled(world);
    const token = await mfaToken(world, who.userId);
    const [id, secret] = token.split(".") as [string, string];
    const forged = `${id}.${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}`;
    await rejectsWith(loginMfa(world.mfaCore, { mfaToken: forged, code: totpAt(who.secret, world.now(), 1) }), "mfa_token_invalid", {
      message: TOKEN_INVALID,
    });
    const [row] = await challenges(who.userId);
    assert.equal(Number(row!.failures), 0);
    assert.equal(row!.used_at, null);
    // The real token still signs in.
    const signIn = await loginMfa(world.mfaCore, { mfaToken: token, code: totpAt(who.secret, world.now(), 1) });
    assert.deepEqual(claimsOf(signIn.accessToken).amr, ["pwd", "otp", "mfa"]);
  });

  test("the user's dead challenges are deleted at the next password step, one that ends at that instant too; live ones and other users' stay", async () => {
    const who = await enrolled(world);
    const other = await enrolled(world);
    await mfaToken(world, who.userId);
    await mfaToken(world, other.userId);
    world.advance(1000);
    await mfaToken(world, who.userId); // ends 1 s after the first
    world.advance(MFA_TOKEN_TTL_SECONDS * 1000 - 1000); // the first ends now, exactly
    await mfaToken(world, who.userId);
    const rows = await challenges(who.userId);
    assert.equal(rows.length, 2, "the first challenge went; the second (live for 1 s more) and the new one stay");
    assert.ok(rows.every((r) => r.expires_at > isoAt(world.now())));
    assert.equal((await challenges(other.userId)).length, 1, "another user's dead challenge is theirs to clear");
  });

  test("a dead challenge (exhausted, used, expired) is refused before anything of the account is read", async () => {
    const who = await enrolled(world);
    const wrong = wrongCode(who.secret, world.now());
    const exhausted = await mfaToken(world, who.userId);
    for (let i = 0; i < 5; i++) await rejectsWith(loginMfa(world.mfaCore, { mfaToken: exhausted, code: wrong }), "code_invalid");
    const used = await mfaToken(world, who.userId);
    await loginMfa(world.mfaCore, { mfaToken: used, code: totpAt(who.secret, world.now(), 1) });
    const expired = await mfaToken(world, who.userId);
    await world.store.db
      .updateTable("users")
      .set({ disabled_at: isoAt(world.now()) })
      .where("id", "=", who.userId)
      .execute();
    // A dead token says nothing about the account (not account_disabled).
    const refused = (token: string) =>
      rejectsWith(loginMfa(world.mfaCore, { mfaToken: token, code: totpAt(who.secret, world.now(), 1) }), "mfa_token_invalid", {
        message: TOKEN_INVALID,
      });
    await refused(exhausted);
    await refused(used);
    world.advance(MFA_TOKEN_TTL_SECONDS * 1000);
    await refused(expired);
  });
});

describe("loginMfa", () => {
  test("an mfa_token or a code that is not a string: 400 validation_failed naming it", async () => {
    const who = await enrolled(world);
    const token = await mfaToken(world, who.userId);
    for (const [input, field] of [
      [{ code: "123456" }, "mfaToken"],
      [{ mfaToken: 42, code: "123456" }, "mfaToken"],
      [{ mfaToken: token }, "code"],
      [{ mfaToken: token, code: 123456 }, "code"],
    ] as const) {
      const error = await rejectsWith(loginMfa(world.mfaCore, input as any), "validation_failed");
      assert.deepEqual(error.errors, [{ field, message: "must be a string" }], JSON.stringify(input));
    }
    const [row] = await challenges(who.userId);
    assert.equal(Number(row!.failures), 0, "no attempt reserved");
  });

  test("a right code signs in with amr pwd otp mfa; the code is trimmed; the token is then used", async () => {
    const who = await enrolled(world);
    const token = await mfaToken(world, who.userId);
    const signIn = await loginMfa(world.mfaCore, { mfaToken: token, code: ` ${totpAt(who.secret, world.now(), 1)}\t` });
    assert.deepEqual(claimsOf(signIn.accessToken).amr, ["pwd", "otp", "mfa"]);
    assert.equal((await world.verify(signIn.accessToken)).userId, who.userId);
    const [row] = await challenges(who.userId);
    assert.notEqual(row!.used_at, null);
    await rejectsWith(loginMfa(world.mfaCore, { mfaToken: token, code: totpAt(who.secret, world.now(), 1) }), "mfa_token_invalid");
  });

  test("signed out everywhere since the password step: mfa_token_invalid before any code is checked (no attempt, no mail, no count)", async () => {
    const who = await enrolled(world);
    const token = await mfaToken(world, who.userId);
    await logout(world.mfaCore, who.principal, { scope: "all" });
    world.subjects.length = 0;
    for (const code of [wrongCode(who.secret, world.now()), totpAt(who.secret, world.now(), 1)]) {
      await rejectsWith(loginMfa(world.mfaCore, { mfaToken: token, code }), "mfa_token_invalid", { message: TOKEN_INVALID });
    }
    const [row] = await challenges(who.userId);
    assert.equal(Number(row!.failures), 0);
    assert.equal(row!.used_at, null);
    assert.deepEqual(world.subjects, []);
    assert.equal((await world.events("mfa.failed")).length, 0);
  });

  test("a disabled account: account_disabled, and no attempt of the challenge spent", async () => {
    const who = await enrolled(world);
    const token = await mfaToken(world, who.userId);
    await world.store.db
      .updateTable("users")
      .set({ disabled_at: isoAt(world.now()) })
      .where("id", "=", who.userId)
      .execute();
    await rejectsWith(loginMfa(world.mfaCore, { mfaToken: token, code: totpAt(who.secret, world.now(), 1) }), "account_disabled");
    const [row] = await challenges(who.userId);
    assert.equal(Number(row!.failures), 0);
    assert.equal(row!.used_at, null);
  });

  test("a wrong code: 401 code_invalid with no token presented, an mfa.failed event of stage sign_in, one mail for the first only", async () => {
    const who = await enrolled(world);
    const token = await mfaToken(world, who.userId);
    const wrong = wrongCode(who.secret, world.now());
    world.subjects.length = 0;
    for (let i = 0; i < 3; i++) {
      const error = await rejectsWith(loginMfa(world.mfaCore, { mfaToken: token, code: wrong }), "code_invalid");
      assert.equal(error.status, 401);
      assert.equal(error.tokenPresented, false);
      assert.equal(error.message, "The code is wrong, already used, or not the current one.");
    }
    assert.deepEqual(world.subjects, ["A sign-in to your account failed at the second step"], "one mail, for the first wrong code only");
    const failed = await world.events("mfa.failed");
    assert.equal(failed.length, 3);
    for (const e of failed) {
      assert.equal(e.user_id, who.userId);
      assert.equal(e.session_id, null);
      assert.deepEqual(JSON.parse(e.detail), { stage: "sign_in" });
    }
    const [row] = await challenges(who.userId);
    assert.equal(Number(row!.failures), 3);
  });

  test("a right code gives its count back: after 9 wrong codes and a right one, one more wrong code is checked before 429", async () => {
    assert.equal(SECOND_FACTOR_FAILURES, 10);
    const who = await enrolled(world);
    const wrong = wrongCode(who.secret, world.now());
    let token = "";
    for (let i = 0; i < 9; i++) {
      if (i % 5 === 0) token = await mfaToken(world, who.userId);
      await rejectsWith(loginMfa(world.mfaCore, { mfaToken: token, code: wrong }), "code_invalid");
    }
    await loginMfa(world.mfaCore, { mfaToken: await mfaToken(world, who.userId), code: totpAt(who.secret, world.now(), 1) });
    token = await mfaToken(world, who.userId);
    await rejectsWith(loginMfa(world.mfaCore, { mfaToken: token, code: wrong }), "code_invalid");
    await rejectsWith(loginMfa(world.mfaCore, { mfaToken: token, code: wrong }), "rate_limited");
  });

  test("a secret that cannot be opened is 503, never a sign-in, and gives the count back (no answer is no failure)", async () => {
    const who = await enrolled(world);
    // Sealed for another user: this server cannot open it for this one.
    await world.store.db
      .updateTable("tokenver_totp")
      .set({ secret: sealTotpSecret(world.core, "someone else", who.secret) })
      .where("user_id", "=", who.userId)
      .execute();
    let token = "";
    for (let i = 0; i < SECOND_FACTOR_FAILURES + 2; i++) {
      if (i % 5 === 0) token = await mfaToken(world, who.userId);
      await rejectsWith(loginMfa(world.mfaCore, { mfaToken: token, code: totpAt(who.secret, world.now(), 1) }), "service_unavailable");
    }
  });

  test("a recovery code: amr pwd mfa, one code fewer, the notice, and mfa.recovery_used with what is left", async () => {
    const who = await enrolled(world);
    // The node's user-row cache holds the row with 10 codes left.
    assert.equal((await getUser(world.mfaCore, who.principal)).recoveryCodesLeft, 10);
    world.subjects.length = 0;
    const signIn = await loginMfa(world.mfaCore, {
      mfaToken: await mfaToken(world, who.userId),
      code: who.recoveryCodes[0]!.toLowerCase(),
    });
    assert.deepEqual(claimsOf(signIn.accessToken).amr, ["pwd", "mfa"]);
    assert.equal(signIn.user.recoveryCodesLeft, 9);
    assert.equal((await getUser(world.mfaCore, who.principal)).recoveryCodesLeft, 9, "the cached row is read anew");
    assert.deepEqual(world.subjects, ["A recovery code was used"]);
    const used = await world.events("mfa.recovery_used");
    assert.equal(used.length, 1);
    assert.equal(used[0]!.user_id, who.userId);
    assert.equal(used[0]!.session_id, null);
    assert.equal(used[0]!.actor, "self");
    assert.deepEqual(JSON.parse(used[0]!.detail), { stage: "sign_in", remaining: 9 });
    // Used once only.
    await rejectsWith(
      loginMfa(world.mfaCore, { mfaToken: await mfaToken(world, who.userId), code: who.recoveryCodes[0]! }),
      "code_invalid",
    );
  });

  test("a TOTP sign-in records no recovery_used event and mails nothing", async () => {
    const who = await enrolled(world);
    world.subjects.length = 0;
    await loginMfa(world.mfaCore, { mfaToken: await mfaToken(world, who.userId), code: totpAt(who.secret, world.now(), 1) });
    assert.deepEqual(world.subjects, []);
    assert.equal((await world.events("mfa.recovery_used")).length, 0);
  });
});

describe("codeCandidate", () => {
  test("the state must match: a pending enrolment is no factor to sign in with, an enabled one nothing to confirm", async () => {
    const who = await enrolled(world);
    const code = totpAt(who.secret, world.now(), 1);
    assert.equal(await codeCandidate(world.core, who.userId, code, { state: "pending", allowRecovery: false }), undefined);
    assert.equal((await codeCandidate(world.core, who.userId, code, { state: "enabled", allowRecovery: false }))?.kind, "totp");
    await world.store.db.updateTable("tokenver_totp").set({ enabled_at: null }).where("user_id", "=", who.userId).execute();
    assert.equal(await codeCandidate(world.core, who.userId, code, { state: "enabled", allowRecovery: true }), undefined);
    assert.equal((await codeCandidate(world.core, who.userId, code, { state: "pending", allowRecovery: false }))?.kind, "totp");
  });

  test("a step at or before the last accepted one is no candidate", async () => {
    const who = await enrolled(world); // step T accepted by the confirmation
    const options = { state: "enabled", allowRecovery: true } as const;
    assert.equal(await codeCandidate(world.core, who.userId, totpAt(who.secret, world.now()), options), undefined);
    assert.equal(await codeCandidate(world.core, who.userId, totpAt(who.secret, world.now(), -1), options), undefined);
    assert.equal((await codeCandidate(world.core, who.userId, totpAt(who.secret, world.now(), 1), options))?.kind, "totp");
  });

  test("a recovery code is a candidate only with allowRecovery, and only for an enabled factor", async () => {
    const who = await enrolled(world);
    const code = who.recoveryCodes[0]!;
    assert.equal((await codeCandidate(world.core, who.userId, code, { state: "enabled", allowRecovery: true }))?.kind, "recovery");
    assert.equal(await codeCandidate(world.core, who.userId, code, { state: "enabled", allowRecovery: false }), undefined);
    assert.equal(await codeCandidate(world.core, who.userId, "not a code", { state: "enabled", allowRecovery: true }), undefined);
    // A pending enrolment (the codes of an earlier factor still stored): no recovery code counts.
    await world.store.db.updateTable("tokenver_totp").set({ enabled_at: null }).where("user_id", "=", who.userId).execute();
    assert.equal(await codeCandidate(world.core, who.userId, code, { state: "pending", allowRecovery: true }), undefined);
  });
});
