// src/core/recovery/forgot-password.ts (`POST /password/forgot`) over the real core and a real
// SQLite store (test/support/sqlite-core.ts): the request is checked and counted, then answered
// before the account is even looked up (the lookup, the link and the mail run in the background,
// awaited here with `settle`); an enabled account gets one reset link, bound to its stored address
// and current version, that works; a disabled or unknown one gets nothing; a store that fails is a
// warning without the address, never an error to the caller.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, test } from "node:test";
import { settle } from "../../../../src/core/recovery/background.js";
import { forgotPassword } from "../../../../src/core/recovery/forgot-password.js";
import { resetPassword } from "../../../../src/core/recovery/reset-password.js";
import { PASSWORD, addAccount, iso, links, mails, passwordIs, rejectsFields, rejectsWith, user } from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

let world: SqliteCore;
const NOW = Date.parse("2030-01-01T00:00:00.000Z");
beforeEach(async () => {
  world = await sqliteCore({ clock: () => NOW });
});
afterEach(async () => {
  await settle(world.core);
  await world.close();
});

const client = { ip: "198.51.100.7", userAgent: "a browser" };
const emailOf = async (userId: string) => (await user(world, userId))!.email;

describe("forgotPassword", () => {
  test("an enabled account: one reset link at its stored address, bound to its version, for resetTtl; the event", async () => {
    const userId = await addAccount(world);
    await world.store.db.updateTable("users").set({ token_version: 3 }).where("id", "=", userId).execute();
    const email = await emailOf(userId);

    assert.equal(await forgotPassword(world.core, { email: ` ${email.toUpperCase()} ` }, client), undefined);
    await settle(world.core);

    const [link, ...more] = await links(world, userId);
    assert.deepEqual(more, []);
    assert.equal(link!.purpose, "reset");
    assert.equal(link!.email, email);
    assert.equal(link!.token_version, 3);
    assert.equal(link!.expires_at, iso(NOW + world.core.config.resetTtl * 1000));
    const queued = await mails(world);
    assert.equal(queued.length, 1);
    assert.equal(queued[0]!.template, "password_reset");
    assert.equal(queued[0]!.to, email);
    // The mailed link is the stored one: it resets the password.
    const token = /#token=([A-Za-z0-9_-]{43})/.exec(queued[0]!.text)?.[1];
    assert.ok(token !== undefined, queued[0]!.text);
    await resetPassword(world.core, { token, newPassword: "a brand new and private passphrase" }, {});
    assert.equal(await passwordIs(world, userId, PASSWORD), false);

    const [event, ...others] = await world.events("password.reset_requested");
    assert.deepEqual(others, []);
    assert.equal(event!.user_id, userId);
    assert.equal(event!.actor, "self");
    assert.equal(event!.ip, client.ip);
    assert.equal(event!.user_agent, client.userAgent);
  });

  test("answered before the lookup: nothing is written until the background work runs", async () => {
    const userId = await addAccount(world);
    await forgotPassword(world.core, { email: await emailOf(userId) }, client);
    assert.deepEqual(await links(world, userId), [], "the answer did not wait for the link");
    await settle(world.core);
    assert.equal((await links(world, userId)).length, 1);
  });

  test("an unknown or disabled account gets nothing, and the same answer", async () => {
    const disabled = await addAccount(world);
    await world.store.db
      .updateTable("users")
      .set({ disabled_at: iso(NOW) })
      .where("id", "=", disabled)
      .execute();
    assert.equal(await forgotPassword(world.core, { email: await emailOf(disabled) }, client), undefined);
    assert.equal(await forgotPassword(world.core, { email: "nobody@example.test" }, client), undefined);
    await settle(world.core);
    assert.deepEqual(await links(world, disabled), []);
    assert.deepEqual(await mails(world), []);
    assert.deepEqual(await world.events("password.reset_requested"), []);
    assert.deepEqual(world.warnings, []);
  });

  test("no email, or not a well-formed one: validation_failed, nothing counted", async () => {
    await rejectsFields(forgotPassword(world.core, {} as never, client), ["email"]);
    await rejectsFields(forgotPassword(world.core, { email: 7 } as never, client), ["email"]);
    await rejectsFields(forgotPassword(world.core, { email: "a\ud800@example.test" }, client), ["email"]);
    await rejectsFields(forgotPassword(world.core, { email: "a\u0007b@example.test" }, client), ["email"]);
    // Nothing of the above was counted: the address still has its 10 requests.
    for (let i = 0; i < 10; i++) await forgotPassword(world.core, { email: "someone@example.test" }, client);
  });

  test("counted per email (normalised) and per client address: 429 past the limit, and no mail for it", async () => {
    const userId = await addAccount(world);
    const email = await emailOf(userId);
    const { accountFailures } = world.core.config.rateLimit;
    for (let i = 0; i < accountFailures; i++) {
      await forgotPassword(world.core, { email: i % 2 === 0 ? email : email.toUpperCase() }, { ip: `203.0.113.${i}` });
    }
    await rejectsWith(forgotPassword(world.core, { email }, { ip: "203.0.113.200" }), "rate_limited", { status: 429 });
    await settle(world.core);
    assert.equal((await mails(world)).length, accountFailures);
    // Resending a verification is another count.
    const { resendVerification } = await import("../../../../src/core/recovery/resend-verification.js");
    await resendVerification(world.core, { email }, { ip: "203.0.113.201" });
  });

  test("a store that fails in the background: a warning without the address, never an error", async () => {
    const userId = await addAccount(world);
    const email = await emailOf(userId);
    await sql`drop table tokenver_links`.execute(world.store.db);
    await forgotPassword(world.core, { email }, client);
    await settle(world.core);
    assert.deepEqual(world.warnings, ["password reset: a store did not answer; the mail was not queued"]);
    assert.deepEqual(await mails(world), [], "the mail went with the link's transaction");
    assert.deepEqual(await world.events("password.reset_requested"), []);
  });
});
