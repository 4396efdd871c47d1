// Unit tests for src/core/mfa/notices.ts over the real core and a real SQLite store in memory
// (test/support/sqlite-core.ts, the mail outbox opened by account-core.ts): the second factor's
// mails. What matters: each goes to the stored address with its own subject and every paragraph
// (the "not you" advice is what makes a notice worth sending), and one queued in a transaction
// goes out only if that transaction commits.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { queueMfaNotice, type MfaNotice } from "../../../../src/core/mfa/notices.js";
import { mails } from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

let world: SqliteCore;
beforeEach(async () => {
  world = await sqliteCore();
});
afterEach(() => world.close());

const NOT_YOU = "If this was not you, change your password at once and check your account's security settings.";
const EXPECTED: Record<MfaNotice, { subject: string; paragraphs: string[] }> = {
  enabled: {
    subject: "Two-step sign-in is on",
    paragraphs: ["every other session of it was signed out", NOT_YOU],
  },
  disabled: {
    subject: "Two-step sign-in is off",
    paragraphs: ["Signing in now takes the password alone.", NOT_YOU],
  },
  recovery_used: {
    subject: "A recovery code was used",
    paragraphs: ["Each code works once", NOT_YOU],
  },
  recovery_codes_renewed: {
    subject: "New recovery codes were issued",
    paragraphs: ["the earlier codes no longer work", NOT_YOU],
  },
  failed: {
    subject: "A sign-in to your account failed at the second step",
    paragraphs: ["then a wrong authenticator code", "your password is known to someone else"],
  },
};

const emailOf = async (userId: string) =>
  (await world.store.db.selectFrom("users").select("email").where("id", "=", userId).executeTakeFirstOrThrow()).email;

describe("queueMfaNotice", () => {
  for (const [notice, expected] of Object.entries(EXPECTED) as Array<[MfaNotice, (typeof EXPECTED)[MfaNotice]]>) {
    test(`${notice}: the notice template to the stored address, its subject and every paragraph`, async () => {
      const userId = await world.addUser();
      await queueMfaNotice(world.core, userId, notice);
      const queued = await mails(world);
      assert.equal(queued.length, 1);
      assert.equal(queued[0]!.template, "notice");
      assert.equal(queued[0]!.to, await emailOf(userId));
      assert.equal(queued[0]!.subject, expected.subject);
      for (const paragraph of expected.paragraphs) assert.ok(queued[0]!.text.includes(paragraph), `${paragraph}\n---\n${queued[0]!.text}`);
    });
  }

  test("queued in a transaction: sent only if it commits", async () => {
    const userId = await world.addUser();
    await assert.rejects(
      world.store.db.transaction().execute(async (trx) => {
        await queueMfaNotice(world.core, userId, "disabled", trx);
        throw new Error("the change failed");
      }),
      /the change failed/,
    );
    assert.deepEqual(await mails(world), []);
    await world.store.db.transaction().execute((trx) => queueMfaNotice(world.core, userId, "disabled", trx));
    assert.deepEqual(
      (await mails(world)).map((m) => m.subject),
      ["Two-step sign-in is off"],
    );
  });

  test("an account that is gone gets nothing", async () => {
    await queueMfaNotice(world.core, "no-such-user", "failed");
    assert.deepEqual(await mails(world), []);
  });
});
