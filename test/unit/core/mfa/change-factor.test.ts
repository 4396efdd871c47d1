// The changes a signed-in user makes to the second factor (src/core/mfa/confirm-totp.ts,
// disable-totp.ts, renew-recovery-codes.ts) over the real core and a real SQLite store in memory
// (./enrolled-core.ts): what each writes, revokes, mails and records, what a wrong code answers and
// counts, and what happens when another request gets in between the code's check and the write
// (a step run inside the next beforeRevoke, or before the next transaction). test/mfa/enrol.test.ts
// drives the same endpoints over HTTP.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { isoAt } from "../../../../src/core/clock.js";
import type { Core } from "../../../../src/core/context.js";
import { getUser } from "../../../../src/core/accounts/profile.js";
import { AuthError } from "../../../../src/core/errors.js";
import { confirmTotp } from "../../../../src/core/mfa/confirm-totp.js";
import { disableTotp } from "../../../../src/core/mfa/disable-totp.js";
import { loginMfa } from "../../../../src/core/mfa/login-mfa.js";
import { renewRecoveryCodes } from "../../../../src/core/mfa/renew-recovery-codes.js";
import { startTotp } from "../../../../src/core/mfa/start-totp.js";
import { timeStep } from "../../../../src/core/mfa/totp.js";
import { SECOND_FACTOR_FAILURES } from "../../../../src/core/throttle.js";
import { hashNewPassword } from "../../../../src/core/passwords/form.js";
import * as sessions from "../../../../src/store/queries/sessions.js";
import { rejectsWith } from "../../../support/account-core.js";
import { totpAt } from "../../../support/totp.js";
import { enrolled, mfaCore, mfaToken, PASSWORD, wrongCode, type MfaCore } from "./enrolled-core.js";

let world: MfaCore;
beforeEach(async () => {
  world = await mfaCore();
});
afterEach(() => world.close());

const totpRow = (userId: string) => world.store.db.selectFrom("tokenver_totp").selectAll().where("user_id", "=", userId).executeTakeFirst();
const recoveryHashes = async (userId: string) =>
  (await world.store.db.selectFrom("tokenver_recovery_codes").select("code_hash").where("user_id", "=", userId).execute())
    .map((r) => r.code_hash)
    .sort();
const epoch = async (sessionId: string) => (await world.session(sessionId)).csrf_epoch;
const detailOf = (event: { detail: string }) => JSON.parse(event.detail);

/** A signed-in user with the password PASSWORD and no second factor. */
async function plainUser() {
  const userId = await world.addUser();
  await world.store.db
    .updateTable("users")
    .set({ password_hash: await hashNewPassword(PASSWORD) })
    .where("id", "=", userId)
    .execute();
  return { userId, ...(await world.signIn(userId)) };
}

/** The core with `step` run once, before the next transaction starts (after the flow's checks, before its write). */
function beforeNextTransaction(step: () => Promise<void>): Core {
  const db = world.mfaCore.db;
  let pending: (() => Promise<void>) | undefined = step;
  const hooked = new Proxy(db, {
    get(target, property) {
      if (property === "transaction") {
        return () => {
          const builder = target.transaction();
          return {
            execute: async <T>(body: (trx: typeof db) => Promise<T>) => {
              const run = pending;
              pending = undefined;
              if (run !== undefined) await run();
              return builder.execute(body);
            },
          };
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { ...world.mfaCore, db: hooked };
}

test("a code or a password that is not a string: 400 validation_failed naming it, before the password is checked", async () => {
  const { principal } = await plainUser();
  const flows = {
    confirmTotp: (input: any) => confirmTotp(world.mfaCore, principal, input),
    disableTotp: (input: any) => disableTotp(world.mfaCore, principal, input),
    renewRecoveryCodes: (input: any) => renewRecoveryCodes(world.mfaCore, principal, input),
  };
  for (const [name, flow] of Object.entries(flows)) {
    for (const [input, field] of [
      [{ password: PASSWORD }, "code"],
      [{ code: 123456, password: PASSWORD }, "code"],
      [{ code: "123456" }, "password"],
      [{ code: "123456", password: null }, "password"],
    ] as const) {
      const error = await rejectsWith(flow(input), "validation_failed", { status: 400 });
      assert.deepEqual(error.errors, [{ field, message: "must be a string" }], `${name} ${JSON.stringify(input)}`);
    }
  }
  // Nothing reached the password re-check: five wrong ones would have revoked the session.
  assert.equal((await world.session(principal.sessionId)).revoked_at, null);
});

describe("confirmTotp", () => {
  test("turns the factor on: the code (trimmed) is its step, 10 recovery codes, other sessions revoked, this one's CSRF epoch moves, mailed, recorded", async () => {
    const { userId, principal } = await plainUser();
    const other = await world.signIn(userId);
    const { secret } = await startTotp(world.mfaCore, principal);
    const before = await epoch(principal.sessionId);
    world.subjects.length = 0;
    const codes = await confirmTotp(world.mfaCore, principal, { code: ` ${totpAt(secret, world.now())} `, password: PASSWORD });
    assert.equal(codes.length, 10);
    assert.equal((await recoveryHashes(userId)).length, 10);
    const row = await totpRow(userId);
    assert.equal(row!.enabled_at, isoAt(world.now()));
    assert.equal(Number(row!.last_step), timeStep(world.now()), "the step is used: never accepted again");
    assert.notEqual((await world.session(other.principal.sessionId)).revoked_at, null);
    await rejectsWith(world.verify(other.accessToken), "token_revoked");
    assert.equal((await world.verify((await world.signIn(userId)).accessToken)).userId, userId);
    assert.equal((await world.session(principal.sessionId)).revoked_at, null);
    assert.equal(await epoch(principal.sessionId), before + 1);
    assert.deepEqual(world.subjects, ["Two-step sign-in is on"]);
    const [enabled] = await world.events("mfa.enabled");
    assert.equal(enabled!.session_id, principal.sessionId);
    assert.deepEqual(detailOf(enabled!), { method: "totp", revoked_sessions: 1 });
  });

  test("already on: 409 mfa_enabled, and the pending code is not checked", async () => {
    const who = await enrolled(world);
    const error = await rejectsWith(
      confirmTotp(world.mfaCore, who.principal, { code: totpAt(who.secret, world.now(), 1), password: PASSWORD }),
      "mfa_enabled",
      { status: 409 },
    );
    assert.equal(error.message, "A second factor is already on.");
    assert.equal((await world.events("mfa.failed")).length, 0);
  });

  test("a wrong code: 400 code_invalid with its detail, mfa.failed of stage enrol, still pending", async () => {
    const { userId, principal } = await plainUser();
    const { secret } = await startTotp(world.mfaCore, principal);
    const error = await rejectsWith(
      confirmTotp(world.mfaCore, principal, { code: wrongCode(secret, world.now()), password: PASSWORD }),
      "code_invalid",
      { status: 400 },
    );
    assert.equal(error.message, "The code is not the current one of the authenticator app.");
    const [failed] = await world.events("mfa.failed");
    assert.equal(failed!.user_id, userId);
    assert.equal(failed!.session_id, principal.sessionId);
    assert.equal(failed!.actor, "self");
    assert.deepEqual(detailOf(failed!), { stage: "enrol" });
    assert.equal((await totpRow(userId))!.enabled_at, null);
  });

  test("the enrolment restarted between the code's check and the write: code_invalid, nothing turned on, nobody signed out", async () => {
    const { userId, principal } = await plainUser();
    const other = await world.signIn(userId);
    const { secret } = await startTotp(world.mfaCore, principal);
    world.onBeforeRevoke(async () => void (await startTotp(world.mfaCore, principal)));
    await rejectsWith(confirmTotp(world.mfaCore, principal, { code: totpAt(secret, world.now()), password: PASSWORD }), "code_invalid", {
      status: 400,
    });
    assert.equal((await totpRow(userId))!.enabled_at, null);
    assert.equal((await world.session(other.principal.sessionId)).revoked_at, null);
    assert.deepEqual(await recoveryHashes(userId), []);
  });

  test("the session revoked between the code's check and the write: token_revoked, nothing turned on", async () => {
    const { userId, principal } = await plainUser();
    const { secret } = await startTotp(world.mfaCore, principal);
    world.onBeforeRevoke(async () => void (await sessions.revokeSession(world.store.db, userId, principal.sessionId, isoAt(world.now()))));
    await rejectsWith(confirmTotp(world.mfaCore, principal, { code: totpAt(secret, world.now()), password: PASSWORD }), "token_revoked");
    assert.equal((await totpRow(userId))!.enabled_at, null);
    assert.equal((await world.events("mfa.enabled")).length, 0);
  });
});

describe("disableTotp", () => {
  test("with a code: the factor, its codes and pending sign-ins go, other sessions revoked, this one's CSRF epoch moves, mailed, recorded", async () => {
    const who = await enrolled(world);
    const other = await world.signIn(who.userId);
    await mfaToken(world, who.userId);
    const before = await epoch(who.principal.sessionId);
    world.subjects.length = 0;
    await disableTotp(world.mfaCore, who.principal, { password: PASSWORD, code: totpAt(who.secret, world.now(), 1) });
    assert.equal(await totpRow(who.userId), undefined);
    assert.deepEqual(await recoveryHashes(who.userId), []);
    assert.equal(
      (await world.store.db.selectFrom("tokenver_mfa_challenges").select("id").where("user_id", "=", who.userId).execute()).length,
      0,
    );
    await rejectsWith(world.verify(other.accessToken), "token_revoked");
    assert.equal((await world.session(who.principal.sessionId)).revoked_at, null);
    assert.equal(await epoch(who.principal.sessionId), before + 1);
    assert.deepEqual(world.subjects, ["Two-step sign-in is off"]);
    assert.equal((await world.events("mfa.recovery_used")).length, 0);
    const [disabled] = await world.events("mfa.disabled");
    assert.equal(disabled!.session_id, who.principal.sessionId);
    assert.deepEqual(detailOf(disabled!), { via: "totp", revoked_sessions: 1 });
  });

  test("with a recovery code: both notices, mfa.recovery_used of stage disable, mfa.disabled via recovery", async () => {
    const who = await enrolled(world);
    world.subjects.length = 0;
    await disableTotp(world.mfaCore, who.principal, { password: PASSWORD, code: who.recoveryCodes[2]! });
    assert.deepEqual(world.subjects, ["Two-step sign-in is off", "A recovery code was used"]);
    const [used] = await world.events("mfa.recovery_used");
    assert.equal(used!.session_id, who.principal.sessionId);
    assert.deepEqual(detailOf(used!), { stage: "disable" });
    const [disabled] = await world.events("mfa.disabled");
    assert.deepEqual(detailOf(disabled!), { via: "recovery", revoked_sessions: 0 });
  });

  test("a wrong code: 403 code_invalid, mfa.failed of stage disable; ten count, then 429", async () => {
    const who = await enrolled(world);
    const wrong = wrongCode(who.secret, world.now());
    for (let i = 0; i < SECOND_FACTOR_FAILURES; i++) {
      const error = await rejectsWith(disableTotp(world.mfaCore, who.principal, { password: PASSWORD, code: wrong }), "code_invalid", {
        status: 403,
      });
      assert.equal(error.tokenPresented, false);
    }
    await rejectsWith(
      disableTotp(world.mfaCore, who.principal, { password: PASSWORD, code: totpAt(who.secret, world.now(), 1) }),
      "rate_limited",
    );
    const failed = await world.events("mfa.failed");
    assert.equal(failed.length, SECOND_FACTOR_FAILURES);
    assert.equal(failed[0]!.session_id, who.principal.sessionId);
    assert.deepEqual(detailOf(failed[0]!), { stage: "disable" });
    assert.notEqual(await totpRow(who.userId), undefined);
  });

  test("without a factor: 403 code_invalid every time, and none of it counts toward the 10 wrong codes", async () => {
    const { principal } = await plainUser();
    for (let i = 0; i < SECOND_FACTOR_FAILURES + 1; i++) {
      await rejectsWith(disableTotp(world.mfaCore, principal, { password: PASSWORD, code: "123456" }), "code_invalid", { status: 403 });
    }
  });

  test("the code used by another sign-in between its check and the write: code_invalid, the factor stays on", async () => {
    const who = await enrolled(world);
    const code = totpAt(who.secret, world.now(), 1);
    const other = await world.signIn(who.userId);
    world.onBeforeRevoke(async () => void (await loginMfa(world.mfaCore, { mfaToken: await mfaToken(world, who.userId), code })));
    await rejectsWith(disableTotp(world.mfaCore, who.principal, { password: PASSWORD, code }), "code_invalid", { status: 403 });
    assert.notEqual((await totpRow(who.userId))!.enabled_at, null);
    assert.equal((await world.session(other.principal.sessionId)).revoked_at, null);
    assert.equal((await world.events("mfa.disabled")).length, 0);
  });

  test("the session revoked between the code's check and the write: token_revoked, the factor stays on", async () => {
    const who = await enrolled(world);
    world.onBeforeRevoke(
      async () => void (await sessions.revokeSession(world.store.db, who.userId, who.principal.sessionId, isoAt(world.now()))),
    );
    await rejectsWith(
      disableTotp(world.mfaCore, who.principal, { password: PASSWORD, code: totpAt(who.secret, world.now(), 1) }),
      "token_revoked",
    );
    assert.notEqual((await totpRow(who.userId))!.enabled_at, null);
  });
});

describe("renewRecoveryCodes", () => {
  test("with a TOTP code: a new set replaces the old, the renewal is mailed, no recovery_used", async () => {
    const who = await enrolled(world);
    const old = await recoveryHashes(who.userId);
    world.subjects.length = 0;
    const codes = await renewRecoveryCodes(world.mfaCore, who.principal, {
      password: PASSWORD,
      code: ` ${totpAt(who.secret, world.now(), 1)}`,
    });
    assert.equal(codes.length, 10);
    const fresh = await recoveryHashes(who.userId);
    assert.equal(fresh.length, 10);
    assert.equal(fresh.filter((h) => old.includes(h)).length, 0);
    assert.deepEqual(world.subjects, ["New recovery codes were issued"]);
    assert.equal((await world.events("mfa.recovery_used")).length, 0);
    // The step is used.
    await rejectsWith(
      renewRecoveryCodes(world.mfaCore, who.principal, { password: PASSWORD, code: totpAt(who.secret, world.now(), 1) }),
      "code_invalid",
    );
  });

  test("with a recovery code: both notices, mfa.recovery_used of stage recovery_codes; the cached user row is read anew", async () => {
    const who = await enrolled(world);
    // One code used at a sign-in: 9 left, as the node's user-row cache now holds it.
    await loginMfa(world.mfaCore, { mfaToken: await mfaToken(world, who.userId), code: who.recoveryCodes[0]! });
    assert.equal((await getUser(world.mfaCore, who.principal)).recoveryCodesLeft, 9);
    world.subjects.length = 0;
    const codes = await renewRecoveryCodes(world.mfaCore, who.principal, { password: PASSWORD, code: who.recoveryCodes[1]! });
    assert.equal(codes.length, 10);
    assert.equal((await getUser(world.mfaCore, who.principal)).recoveryCodesLeft, 10);
    assert.deepEqual(world.subjects, ["New recovery codes were issued", "A recovery code was used"]);
    const used = (await world.events("mfa.recovery_used")).filter((e) => e.session_id !== null);
    assert.equal(used.length, 1);
    assert.equal(used[0]!.session_id, who.principal.sessionId);
    assert.equal(used[0]!.actor, "self");
    assert.deepEqual(detailOf(used[0]!), { stage: "recovery_codes" });
  });

  test("a wrong code: 403 code_invalid, mfa.failed of stage recovery_codes, the old set kept", async () => {
    const who = await enrolled(world);
    const old = await recoveryHashes(who.userId);
    await rejectsWith(
      renewRecoveryCodes(world.mfaCore, who.principal, { password: PASSWORD, code: wrongCode(who.secret, world.now()) }),
      "code_invalid",
      { status: 403 },
    );
    const [failed] = await world.events("mfa.failed");
    assert.deepEqual(detailOf(failed!), { stage: "recovery_codes" });
    assert.deepEqual(await recoveryHashes(who.userId), old);
  });

  test("without a factor: 403 code_invalid every time, and none of it counts toward the 10 wrong codes", async () => {
    const { principal } = await plainUser();
    for (let i = 0; i < SECOND_FACTOR_FAILURES + 1; i++) {
      await rejectsWith(renewRecoveryCodes(world.mfaCore, principal, { password: PASSWORD, code: "123456" }), "code_invalid", {
        status: 403,
      });
    }
  });

  test("the recovery code used by a sign-in between its check and the write: code_invalid, the old set kept", async () => {
    const who = await enrolled(world);
    const code = who.recoveryCodes[4]!;
    const core = beforeNextTransaction(
      async () => void (await loginMfa(world.mfaCore, { mfaToken: await mfaToken(world, who.userId), code })),
    );
    const old = await recoveryHashes(who.userId);
    await rejectsWith(renewRecoveryCodes(core, who.principal, { password: PASSWORD, code }), "code_invalid", { status: 403 });
    assert.deepEqual(await recoveryHashes(who.userId), old);
  });

  test("the session revoked between the code's check and the write: token_revoked, the old set kept", async () => {
    const who = await enrolled(world);
    const old = await recoveryHashes(who.userId);
    const core = beforeNextTransaction(
      async () => void (await sessions.revokeSession(world.store.db, who.userId, who.principal.sessionId, isoAt(world.now()))),
    );
    await rejectsWith(
      renewRecoveryCodes(core, who.principal, { password: PASSWORD, code: totpAt(who.secret, world.now(), 1) }),
      "token_revoked",
    );
    assert.deepEqual(await recoveryHashes(who.userId), old);
  });
});
