// Unit tests for src/core/mfa/prove.ts over the real core and a real SQLite store in memory
// (./enrolled-core.ts): the second factor of a change a signed-in user makes. What matters: every
// attempt counts toward the account's 10 wrong codes an hour before the code is checked, only a
// wrong code keeps its count, only the enabled factor (never a pending enrolment) proves anything,
// and a recovery code is accepted as well as a TOTP code. The count is read the way an attacker
// meets it: how many wrong codes are answered before 429.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { AuthError } from "../../../../src/core/errors.js";
import { proveSecondFactor, settleSecondFactor } from "../../../../src/core/mfa/prove.js";
import { startTotp } from "../../../../src/core/mfa/start-totp.js";
import { SECOND_FACTOR_FAILURES } from "../../../../src/core/throttle.js";
import { rejectsWith } from "../../../support/account-core.js";
import { totpAt } from "../../../support/totp.js";
import { enrolled, mfaCore, wrongCode, type Enrolled, type MfaCore } from "./enrolled-core.js";

let world: MfaCore;
let user: Enrolled;
beforeEach(async () => {
  world = await mfaCore();
  user = await enrolled(world);
});
afterEach(() => world.close());

class Wrong extends Error {}
const reject = () => new Wrong("wrong code");
/** A code of the next step: the enrolment used up the current one. */
function nextCode(): string {
  world.advance(30_000);
  return totpAt(user.secret, world.now());
}
const prove = (code: string, userId = user.userId) => proveSecondFactor(world.mfaCore, userId, code, reject);

/** How many wrong codes are still answered as wrong before the account's second factor is 429 (at most one more than the limit). */
async function wrongCodesLeft(): Promise<number> {
  const code = wrongCode(user.secret, world.now());
  for (let answered = 0; answered <= SECOND_FACTOR_FAILURES; answered++) {
    try {
      await prove(code);
      assert.fail("a wrong code proved the second factor");
    } catch (error) {
      if (error instanceof AuthError && error.code === "rate_limited") return answered;
      assert.ok(error instanceof Wrong, String(error));
    }
  }
  return SECOND_FACTOR_FAILURES + 1;
}

describe("proveSecondFactor", () => {
  test("a current TOTP code is a totp candidate, spaces around it trimmed", async () => {
    const code = nextCode();
    const sealed = (
      await world.store.db.selectFrom("tokenver_totp").select("secret").where("user_id", "=", user.userId).executeTakeFirstOrThrow()
    ).secret;
    for (const sent of [code, ` ${code}\t`, `\n${code} `]) {
      const candidate = await prove(sent);
      assert.equal(candidate.kind, "totp", JSON.stringify(sent));
      assert.equal(candidate.sealedSecret, sealed);
    }
  });

  test("an unused recovery code is a recovery candidate", async () => {
    const candidate = await prove(user.recoveryCodes[0]!);
    assert.equal(candidate.kind, "recovery");
  });

  test("a wrong code throws what reject() makes, and nothing else", async () => {
    await assert.rejects(prove(wrongCode(user.secret, world.now())), Wrong);
    await assert.rejects(prove("not a code at all"), Wrong);
  });

  test("a pending enrolment proves nothing: its own current code is wrong", async () => {
    const userId = await world.addUser();
    const { principal } = await world.signIn(userId);
    const { secret } = await startTotp(world.mfaCore, principal);
    await assert.rejects(prove(totpAt(secret, world.now()), userId), Wrong);
  });

  test(`every attempt counts before the check: ${SECOND_FACTOR_FAILURES} wrong codes, then 429`, async () => {
    assert.equal(await wrongCodesLeft(), SECOND_FACTOR_FAILURES);
    // Even a right code is refused now: the count comes first.
    await rejectsWith(prove(nextCode()), "rate_limited", { status: 429 });
  });

  test("a right code keeps its count until the change settles (a proof alone is no success)", async () => {
    await prove(nextCode());
    assert.equal(await wrongCodesLeft(), SECOND_FACTOR_FAILURES - 1);
  });

  test("a failure while the code is checked gives the count back and is thrown as it is", async () => {
    const totp = () => world.store.db.updateTable("tokenver_totp").where("user_id", "=", user.userId);
    const { secret: sealed } = await world.store.db
      .selectFrom("tokenver_totp")
      .select("secret")
      .where("user_id", "=", user.userId)
      .executeTakeFirstOrThrow();
    // A secret sealed under another server secret cannot be opened: 503, fail closed.
    await totp().set({ secret: "v1.not-a-sealed-secret" }).execute();
    await rejectsWith(prove(nextCode()), "service_unavailable", { status: 503 });
    // The factor readable again: the full allowance of wrong codes is left.
    await totp().set({ secret: sealed }).execute();
    assert.equal(await wrongCodesLeft(), SECOND_FACTOR_FAILURES);
  });
});

describe("settleSecondFactor", () => {
  test("a change that succeeds answers its result and gives the count back", async () => {
    await prove(nextCode());
    assert.equal(await settleSecondFactor(world.mfaCore, user.userId, async () => "done"), "done");
    assert.equal(await wrongCodesLeft(), SECOND_FACTOR_FAILURES);
  });

  test("a code another request used first (code_invalid inside the change) keeps its count", async () => {
    await prove(nextCode());
    const used = new AuthError("code_invalid");
    await assert.rejects(
      settleSecondFactor(world.mfaCore, user.userId, async () => Promise.reject(used)),
      (error: unknown) => error === used,
    );
    assert.equal(await wrongCodesLeft(), SECOND_FACTOR_FAILURES - 1);
  });

  test("any other failure of the change gives the count back and is thrown as it is", async () => {
    await prove(nextCode());
    const outage = new AuthError("service_unavailable");
    await assert.rejects(
      settleSecondFactor(world.mfaCore, user.userId, async () => Promise.reject(outage)),
      (error: unknown) => error === outage,
    );
    assert.equal(await wrongCodesLeft(), SECOND_FACTOR_FAILURES);
  });
});
