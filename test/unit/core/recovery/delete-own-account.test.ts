// src/core/recovery/delete-own-account.ts (`DELETE /profile {password}`) over the real core and a
// real SQLite store (test/support/sqlite-core.ts, real argon2id): the password re-checked first
// (missing: validation_failed; wrong: 403 invalid_credentials; nothing deleted either way), then
// the account deleted through the one revocation protocol with the notice queued to its address,
// only while the caller's sign-in is still current, and `account.deleted` naming the caller's
// session, actor and client. The last enabled admin cannot delete themself.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { deleteOwnAccount } from "../../../../src/core/recovery/delete-own-account.js";
import { PASSWORD, addAccount, liveSessions, mails, rejectsFields, rejectsWith, signInNow, user } from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

let world: SqliteCore;
const now = Date.parse("2030-01-01T00:00:00.000Z");
beforeEach(async () => {
  world = await sqliteCore({ clock: () => now });
});
afterEach(() => world.close());

const client = { ip: "203.0.113.70", userAgent: "the owner's browser" };

describe("deleteOwnAccount", () => {
  test("the right password: the account gone, every token refused, the notice to its address, the event", async () => {
    const userId = await addAccount(world);
    const email = (await user(world, userId))!.email;
    const caller = await signInNow(world, userId);
    const other = await signInNow(world, userId);

    assert.equal(await deleteOwnAccount(world.core, caller.principal, { password: PASSWORD }, client), undefined);

    assert.equal(await user(world, userId), undefined);
    for (const s of [caller, other]) await assert.rejects(world.verify(s.accessToken));
    const queued = await mails(world);
    assert.deepEqual(
      queued.map((m) => [m.template, m.to]),
      [["account_deleted", email]],
    );
    const [event, ...more] = await world.events("account.deleted");
    assert.deepEqual(more, []);
    assert.equal(event!.user_id, userId);
    assert.equal(event!.session_id, caller.principal.sessionId);
    assert.equal(event!.actor, "self");
    assert.equal(event!.ip, client.ip);
    assert.equal(event!.user_agent, client.userAgent);
  });

  test("no password: validation_failed; a wrong one: 403 invalid_credentials; nothing deleted", async () => {
    const userId = await addAccount(world);
    const caller = await signInNow(world, userId);
    await rejectsFields(deleteOwnAccount(world.core, caller.principal, {} as never, client), ["password"]);
    await rejectsFields(deleteOwnAccount(world.core, caller.principal, { password: 42 } as never, client), ["password"]);
    await rejectsWith(deleteOwnAccount(world.core, caller.principal, { password: "not the passphrase" }, client), "invalid_credentials", {
      status: 403,
    });
    assert.notEqual(await user(world, userId), undefined);
    assert.deepEqual(await liveSessions(world, userId), [caller.principal.sessionId]);
    assert.deepEqual(await mails(world), []);
    assert.deepEqual(await world.events("account.deleted"), []);
  });

  test("the caller's session revoked between the re-check and the deletion: token_revoked, nothing deleted", async () => {
    const userId = await addAccount(world);
    const caller = await signInNow(world, userId);
    const other = await signInNow(world, userId);
    world.onBeforeRevoke(async () => {
      await world.store.db
        .updateTable("sessions")
        .set({ revoked_at: new Date(now).toISOString() })
        .where("id", "=", caller.principal.sessionId)
        .execute();
    });
    await rejectsWith(deleteOwnAccount(world.core, caller.principal, { password: PASSWORD }, client), "token_revoked");
    assert.notEqual(await user(world, userId), undefined);
    assert.deepEqual(await liveSessions(world, userId), [other.principal.sessionId]);
    assert.deepEqual(await mails(world), []);
  });

  test("the last enabled admin: 403 forbidden, nothing deleted", async () => {
    const userId = await addAccount(world);
    await world.store.db.updateTable("users").set({ role: "admin" }).where("id", "=", userId).execute();
    const caller = await signInNow(world, userId);
    await rejectsWith(deleteOwnAccount(world.core, caller.principal, { password: PASSWORD }, client), "forbidden", { status: 403 });
    assert.notEqual(await user(world, userId), undefined);
    assert.deepEqual(await mails(world), []);
  });
});
