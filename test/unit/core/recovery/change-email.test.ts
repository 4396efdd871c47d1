// src/core/recovery/change-email.ts (`POST /email`) and its second factor (second-factor.ts) over the
// real core and a real SQLite store (test/support/sqlite-core.ts), at unit speed: the input, the
// password re-check, with a factor on its code (counted toward the account's wrong codes, used up in
// the change's transaction), then the two links and two mails in one transaction that holds only
// while the caller's session does. Every refusal writes nothing; only a wrong code keeps its count.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { getUser } from "../../../../src/core/accounts/profile.js";
import type { Core } from "../../../../src/core/context.js";
import { disableTotp } from "../../../../src/core/mfa/disable-totp.js";
import { HashQueue } from "../../../../src/core/passwords/hashing.js";
import { hashLinkToken } from "../../../../src/core/recovery/link.js";
import { changeEmail } from "../../../../src/core/recovery/change-email.js";
import { insertUser } from "../../../../src/store/queries/users.js";
import {
  PASSWORD,
  addAccount,
  enableTotp,
  linkFor,
  links,
  liveSessions,
  mails,
  rejectsFields,
  rejectsWith,
  signInNow,
  user,
} from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";
import { totpAt } from "../../../support/totp.js";

let world: SqliteCore;
/** The middle of a 30-second TOTP step. */
let now = Date.parse("2030-01-01T00:00:15.000Z");
beforeEach(async () => {
  world = await sqliteCore({ clock: () => now });
});
afterEach(() => world.close());

const NEW_EMAIL = "the-new-address@example.test";
type Mutable = { -readonly [K in keyof Core]: Core[K] };

async function account() {
  const userId = await addAccount(world);
  return { userId, email: (await user(world, userId))!.email, ...(await signInNow(world, userId)) };
}

/** Nothing of a change landed: no link, no mail, no change_requested event. */
async function nothingWritten(userId: string, linkCount = 0) {
  assert.equal((await links(world, userId)).length, linkCount);
  assert.deepEqual(
    (await mails(world)).filter((m) => m.template !== "notice"),
    [],
  );
  assert.deepEqual(await world.events("email.change_requested"), []);
}

/** Runs `step` once, right after the next password check (before the change's transaction). */
function afterPasswordCheck(step: () => Promise<void>) {
  const queue = new HashQueue(8);
  const reserve = queue.reserve.bind(queue);
  let pending: (() => Promise<void>) | undefined = step;
  queue.reserve = () => {
    const ticket = reserve();
    return {
      release: ticket.release,
      run: async (work) => {
        const result = await ticket.run(work);
        const run = pending;
        pending = undefined;
        if (run !== undefined) await run();
        return result;
      },
    };
  };
  (world.core as Mutable).hashQueue = queue;
}

/** Runs `step` once, at the start of the next transaction on the store (after the checks, before the change's writes). */
function atNextTransaction(step: () => Promise<void>) {
  const db = world.store.db;
  const transaction = db.transaction.bind(db);
  (db as { transaction: typeof db.transaction }).transaction = () => {
    (db as { transaction: typeof db.transaction }).transaction = transaction;
    const builder = transaction();
    return {
      execute: async (fn: never) => {
        await step();
        return builder.execute(fn);
      },
    } as unknown as ReturnType<typeof transaction>;
  };
}

describe("changeEmail without a second factor", () => {
  test("a link to the new address, a cancel link to the old one, bound to the account as it is; nothing changes yet", async () => {
    const a = await account();
    world.revocations.length = 0;
    const client = { ip: "203.0.113.50", userAgent: "the owner's browser" };
    // A code is ignored without a factor.
    assert.equal(
      await changeEmail(
        world.core,
        a.principal,
        { newEmail: ` ${NEW_EMAIL.toUpperCase()} `, password: PASSWORD, code: "nonsense" },
        client,
      ),
      undefined,
    );

    const stored = await links(world, a.userId);
    assert.deepEqual(
      stored.map((l) => [l.purpose, l.email, l.new_email, l.token_version, l.expires_at]),
      [
        ["email_cancel", a.email, null, 0, new Date(now + world.core.config.verifyTtl * 1000).toISOString()],
        ["email_change", a.email, NEW_EMAIL, 0, new Date(now + world.core.config.verifyTtl * 1000).toISOString()],
      ],
    );
    const [confirm, notice, ...more] = await mails(world);
    assert.deepEqual(more, []);
    assert.equal(confirm!.template, "verify_email");
    assert.equal(confirm!.to, NEW_EMAIL);
    const confirmToken = /#token=([A-Za-z0-9_-]{43})/.exec(confirm!.text)![1]!;
    assert.equal(hashLinkToken(confirmToken), stored.find((l) => l.purpose === "email_change")!.token_hash);
    assert.equal(notice!.template, "email_change_requested");
    assert.equal(notice!.to, a.email);
    assert.ok(notice!.text.includes(NEW_EMAIL), notice!.text);
    const cancelToken = /#token=([A-Za-z0-9_-]{43})/.exec(notice!.text)![1]!;
    assert.equal(hashLinkToken(cancelToken), stored.find((l) => l.purpose === "email_cancel")!.token_hash);

    const row = (await user(world, a.userId))!;
    assert.equal(row.email, a.email, "the change waits for the confirmation");
    assert.equal(row.token_version, 0);
    assert.deepEqual(world.revocations, [], "no revocation");
    assert.deepEqual(await liveSessions(world, a.userId), [a.principal.sessionId]);
    const [event, ...others] = await world.events("email.change_requested");
    assert.deepEqual(others, []);
    assert.equal(event!.user_id, a.userId);
    assert.equal(event!.session_id, a.principal.sessionId);
    assert.equal(event!.actor, "self");
    assert.equal(event!.ip, client.ip);
    assert.equal(event!.user_agent, client.userAgent);
    assert.deepEqual(await world.events("mfa.recovery_used"), []);
  });

  test("a newer change supersedes the pending one's two links; a reset link stays", async () => {
    const a = await account();
    await linkFor(world, a.userId, "reset");
    await changeEmail(world.core, a.principal, { newEmail: "first@example.test", password: PASSWORD }, {});
    const first = await links(world, a.userId);
    await changeEmail(world.core, a.principal, { newEmail: "second@example.test", password: PASSWORD }, {});
    const second = await links(world, a.userId);
    assert.deepEqual(
      second.map((l) => l.purpose),
      ["email_cancel", "email_change", "reset"],
    );
    assert.equal(second.find((l) => l.purpose === "email_change")!.new_email, "second@example.test");
    for (const l of first.filter((l) => l.purpose !== "reset")) {
      assert.ok(!second.some((s) => s.token_hash === l.token_hash), `the first ${l.purpose} link is gone`);
    }
  });

  test("the input: each field not as it must be is named, all at once, before the password is checked", async () => {
    const a = await account();
    (world.core as Mutable).hashQueue = new HashQueue(0, 0);
    const error = await rejectsFields(
      changeEmail(world.core, a.principal, { newEmail: "not an address", password: 12, code: 123456 } as never, {}),
      ["newEmail", "password", "code"],
    );
    assert.equal(error.errors![0]!.message, "must be a valid email address");
    assert.equal(error.errors![1]!.message, "must be a string");
    assert.equal(error.errors![2]!.message, "must be a string");
    await rejectsFields(changeEmail(world.core, a.principal, null as never, {}), ["newEmail", "password"]);
    await rejectsFields(changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL } as never, {}), ["password"]);
    await rejectsFields(changeEmail(world.core, a.principal, { password: PASSWORD } as never, {}), ["newEmail"]);
    await nothingWritten(a.userId);
  });

  test("a wrong password: 403 invalid_credentials, nothing written", async () => {
    const a = await account();
    await rejectsWith(
      changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: "not the password" }, {}),
      "invalid_credentials",
      {
        status: 403,
      },
    );
    await nothingWritten(a.userId);
  });

  test("the account's own address: validation_failed on newEmail; an address another account holds: 409 email_taken", async () => {
    const a = await account();
    const same = await rejectsFields(changeEmail(world.core, a.principal, { newEmail: a.email.toUpperCase(), password: PASSWORD }, {}), [
      "newEmail",
    ]);
    assert.equal(same.errors![0]!.message, "is already the account's address");
    const other = await world.addUser();
    await rejectsWith(
      changeEmail(world.core, a.principal, { newEmail: (await user(world, other))!.email, password: PASSWORD }, {}),
      "email_taken",
      { status: 409, message: "An account with this email already exists." },
    );
    await nothingWritten(a.userId);
  });

  test("the session revoked while the password was checked: token_revoked, nothing written", async () => {
    const a = await account();
    afterPasswordCheck(async () => {
      await world.store.db
        .updateTable("sessions")
        .set({ revoked_at: new Date(now).toISOString() })
        .where("id", "=", a.principal.sessionId)
        .execute();
    });
    await rejectsWith(changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD }, {}), "token_revoked", {
      status: 401,
      tokenPresented: true,
    });
    await nothingWritten(a.userId);
  });

  test("the version bumped while the password was checked: token_revoked, nothing written", async () => {
    const a = await account();
    afterPasswordCheck(async () => {
      await world.store.db.updateTable("users").set({ token_version: 1 }).where("id", "=", a.userId).execute();
    });
    await rejectsWith(changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD }, {}), "token_revoked");
    await nothingWritten(a.userId);
  });
});

describe("changeEmail with a second factor on", () => {
  async function enrolled() {
    const a = await account();
    const factor = await enableTotp(world, a.principal);
    now += 30_000; // the next step: the enrolment used this one
    return { ...a, ...factor };
  }

  test("no code, a blank one, a wrong one, one of another format: 403 code_invalid, mfa.failed at stage email_change, nothing written", async () => {
    const a = await enrolled();
    const client = { ip: "203.0.113.51" };
    for (const code of [undefined, "", "   ", "000000", "not-a-code"]) {
      await rejectsWith(
        changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, ...(code === undefined ? {} : { code }) }, client),
        "code_invalid",
        { status: 403, tokenPresented: false },
      );
    }
    const failed = await world.events("mfa.failed");
    assert.equal(failed.length, 5);
    for (const e of failed) {
      assert.equal(e.user_id, a.userId);
      assert.equal(e.session_id, a.principal.sessionId);
      assert.equal(e.ip, client.ip);
      assert.deepEqual(JSON.parse(e.detail), { stage: "email_change" });
    }
    await nothingWritten(a.userId);
  });

  test("the current TOTP code: the change goes through and the step is used up; no recovery notice", async () => {
    const a = await enrolled();
    const code = totpAt(a.secret, now);
    const mailsBefore = (await mails(world)).length;
    await changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code: ` ${code} ` }, {});
    assert.equal((await links(world, a.userId)).length, 2);
    const after = await mails(world);
    assert.deepEqual(
      after.slice(mailsBefore).map((m) => m.template),
      ["verify_email", "email_change_requested"],
    );
    assert.deepEqual(await world.events("mfa.recovery_used"), []);
    await rejectsWith(
      changeEmail(world.core, a.principal, { newEmail: "again@example.test", password: PASSWORD, code }, {}),
      "code_invalid",
    );
  });

  test("a recovery code: the change goes through once; its use is mailed, recorded and announced (one code fewer)", async () => {
    const a = await enrolled();
    assert.equal((await getUser(world.core, a.principal)).recoveryCodesLeft, 10);
    const mailsBefore = (await mails(world)).length;
    const client = { ip: "203.0.113.52", userAgent: "a phone" };
    await changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code: a.recoveryCodes[0] }, client);
    const queued = (await mails(world)).slice(mailsBefore);
    assert.deepEqual(
      queued.map((m) => [m.template, m.to, m.template === "notice" ? m.subject : ""]),
      [
        ["notice", a.email, "A recovery code was used"],
        ["verify_email", NEW_EMAIL, ""],
        ["email_change_requested", a.email, ""],
      ],
    );
    const [used, ...more] = await world.events("mfa.recovery_used");
    assert.deepEqual(more, []);
    assert.equal(used!.user_id, a.userId);
    assert.equal(used!.session_id, a.principal.sessionId);
    assert.equal(used!.actor, "self");
    assert.equal(used!.ip, client.ip);
    assert.equal(used!.user_agent, client.userAgent);
    assert.deepEqual(JSON.parse(used!.detail), { stage: "email_change" });
    // The user row changed (one recovery code fewer), and the node's copy was forgotten.
    assert.equal((await getUser(world.core, a.principal)).recoveryCodesLeft, 9);
    await rejectsWith(
      changeEmail(world.core, a.principal, { newEmail: "again@example.test", password: PASSWORD, code: a.recoveryCodes[0] }, {}),
      "code_invalid",
    );
  });

  test("a right code gives its count back; a refusal for another reason too; only wrong codes reach the limit (10 an hour)", async () => {
    const a = await enrolled();
    const other = await world.addUser();
    const taken = (await user(world, other))!.email;
    for (let i = 0; i < 9; i++) {
      await rejectsWith(
        changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code: "000000" }, {}),
        "code_invalid",
      );
    }
    // The 10th attempt is a right code, refused for another reason: its count comes back.
    await rejectsWith(
      changeEmail(world.core, a.principal, { newEmail: taken, password: PASSWORD, code: a.recoveryCodes[0] }, {}),
      "email_taken",
    );
    await rejectsFields(changeEmail(world.core, a.principal, { newEmail: a.email, password: PASSWORD, code: a.recoveryCodes[0] }, {}), [
      "newEmail",
    ]);
    // Still unused (the refusals rolled back or came before the transaction), and right: accepted, count given back.
    await changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code: a.recoveryCodes[0] }, {});
    now += 30_000;
    await changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code: totpAt(a.secret, now) }, {});
    // Missing and blank codes are refused before they are counted.
    for (const code of [undefined, "  "]) {
      await rejectsWith(changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code }, {}), "code_invalid");
    }
    // The 10th wrong code is counted and refused; the 11th is over the limit.
    await rejectsWith(
      changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code: "000000" }, {}),
      "code_invalid",
    );
    await rejectsWith(
      changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code: "000000" }, {}),
      "rate_limited",
      {
        status: 429,
      },
    );
  });

  test("without a factor, a refused change gives back no count: wrong codes from before the factor went off still count", async () => {
    const a = await enrolled();
    for (let i = 0; i < 9; i++) {
      await rejectsWith(
        changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code: "000000" }, {}),
        "code_invalid",
      );
    }
    // Off with a right code (its own count given back: 9 stay), then a change without a factor refused.
    await disableTotp(world.core, a.principal, { password: PASSWORD, code: a.recoveryCodes[0]! });
    const taken = (await user(world, await world.addUser()))!.email;
    await rejectsWith(changeEmail(world.core, a.principal, { newEmail: taken, password: PASSWORD }, {}), "email_taken");
    // On again: the 10th wrong code of the hour is refused, the 11th is over the limit.
    now += 30_000;
    await enableTotp(world, a.principal);
    now += 30_000;
    await rejectsWith(
      changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code: "000000" }, {}),
      "code_invalid",
    );
    await rejectsWith(
      changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code: "000000" }, {}),
      "rate_limited",
    );
  });

  test("the session revoked while the code was checked: token_revoked, the code not used up, its count given back", async () => {
    const a = await enrolled();
    for (let i = 0; i < 9; i++) {
      await rejectsWith(
        changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code: "000000" }, {}),
        "code_invalid",
      );
    }
    atNextTransaction(async () => {
      await world.store.db
        .updateTable("sessions")
        .set({ revoked_at: new Date(now).toISOString() })
        .where("id", "=", a.principal.sessionId)
        .execute();
    });
    await rejectsWith(
      changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code: a.recoveryCodes[1] }, {}),
      "token_revoked",
    );
    await nothingWritten(a.userId);
    assert.deepEqual(await world.events("mfa.recovery_used"), []);
    // Another session: the same recovery code still works, and was not counted as a wrong one (else 429).
    const next = await signInNow(world, a.userId);
    await changeEmail(world.core, next.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code: a.recoveryCodes[1] }, {});
    assert.equal((await links(world, a.userId)).length, 2);
  });

  test("a code another request used first, found inside the change: code_invalid, counted, nothing written", async () => {
    const a = await enrolled();
    for (let i = 0; i < 9; i++) {
      await rejectsWith(
        changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code: "000000" }, {}),
        "code_invalid",
      );
    }
    const code = totpAt(a.secret, now);
    atNextTransaction(async () => {
      // Another request's use of this very step.
      await world.store.db
        .updateTable("tokenver_totp")
        .set({ last_step: Math.floor(now / 30_000) })
        .where("user_id", "=", a.userId)
        .execute();
    });
    await rejectsWith(changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code }, {}), "code_invalid", {
      status: 403,
    });
    await nothingWritten(a.userId);
    assert.equal((await world.events("mfa.failed")).length, 10);
    // That was the 10th counted wrong code: the next attempt, even a right one, is over the limit.
    now += 30_000;
    await rejectsWith(
      changeEmail(world.core, a.principal, { newEmail: NEW_EMAIL, password: PASSWORD, code: totpAt(a.secret, now) }, {}),
      "rate_limited",
    );
  });
});
