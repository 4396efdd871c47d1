// src/core/accounts/profile.ts (getUser, updateProfile) and the self-service path of
// delete-account.ts over the real core and a real SQLite store in memory (test/support/sqlite-core.ts),
// at unit speed: the caller's user read through the node's user-row cache and kept exact (a profile
// change is announced, so the next read sees it), what a profile update takes and refuses, and a
// deletion by the user: only while that sign-in is still current, with the notice queued to the
// address in the deleting transaction and the event naming the session and the client.
// test/profile.test.ts and test/recovery/delete-and-require.test.ts drive the same over HTTP.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { Type } from "typebox";
import { deleteAccount } from "../../../../src/core/accounts/delete-account.js";
import { getUser, updateProfile } from "../../../../src/core/accounts/profile.js";
import type { Core } from "../../../../src/core/context.js";
import { profileSchemas } from "../../../../src/core/validation.js";
import { openStore } from "../../../../src/store/database.js";
import { iso, linkFor, links, liveSessions, mails, rejectsFields, rejectsWith, signInNow, user } from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

const UNKNOWN_USER = "The token's user is unknown.";

let world: SqliteCore;
let now = Date.parse("2030-01-01T00:00:00.000Z");
beforeEach(async () => {
  world = await sqliteCore({ clock: () => now });
});
afterEach(() => world.close());

const fields = { nickname: Type.String({ maxLength: 10 }), city: Type.String() };
const custom = (): Core => ({ ...world.core, config: { ...world.core.config, userFields: fields }, schemas: profileSchemas(fields) });

async function downCore(): Promise<Core> {
  const closed = await openStore("sqlite::memory:");
  await closed.close();
  return { ...world.core, db: closed.db };
}

describe("getUser", () => {
  test("the caller's user, through the Kysely read or the store's own handle; a deleted user is token_invalid with the token presented", async () => {
    const userId = await world.addUser();
    const s = await signInNow(world, userId);
    assert.equal((await getUser(world.core, s.principal)).id, userId);
    assert.equal((await getUser(world.core, s.principal, world.store)).email, (await user(world, userId))!.email);
    await world.store.db.deleteFrom("users").where("id", "=", userId).execute();
    await world.core.revoker.userChanged(userId);
    await rejectsWith(getUser(world.core, s.principal), "token_invalid", { status: 401, message: UNKNOWN_USER, tokenPresented: true });
    await rejectsWith(getUser(world.core, s.principal, world.store), "token_invalid", { tokenPresented: true });
  });

  test("a store that does not answer: 503", async () => {
    const s = await signInNow(world, await world.addUser());
    await rejectsWith(getUser(await downCore(), s.principal), "service_unavailable", { status: 503 });
  });
});

describe("updateProfile", () => {
  test("custom fields merged into the stored ones, the username set; the next read on this node sees it (announced)", async () => {
    const core = custom();
    const userId = await world.addUser();
    const s = await signInNow(world, userId);
    assert.equal((await getUser(core, s.principal)).username, null, "the row is now cached");
    now += 1000;
    const first = (await updateProfile(core, s.principal, { nickname: "nn", username: "Ann", ignored: "x" })) as Record<string, unknown>;
    assert.equal(first.nickname, "nn");
    assert.equal(first.username, "Ann");
    assert.equal(first.ignored, undefined);
    assert.equal((await user(world, userId))!.updated_at, iso(now));
    assert.equal((await getUser(core, s.principal)).username, "Ann", "the cached row was forgotten");
    const second = (await updateProfile(core, s.principal, { city: "Oslo" })) as Record<string, unknown>;
    assert.equal(second.nickname, "nn", "the stored fields stay");
    assert.equal(second.city, "Oslo");
    assert.equal(second.username, "Ann", "no username key: the username stays");
    assert.deepEqual(JSON.parse((await user(world, userId))!.profile), { nickname: "nn", city: "Oslo" });
    const cleared = await updateProfile(core, s.principal, { username: null });
    assert.equal(cleared.username, null);
    assert.equal((await updateProfile(core, s.principal, { username: undefined })).username, null);
    assert.equal((await user(world, userId))!.token_version, 0, "no revocation");
  });

  test("what is no object, a custom field the schema refuses, a bad username: validation_failed, nothing written", async () => {
    const core = custom();
    const userId = await world.addUser();
    const s = await signInNow(world, userId);
    for (const input of [null, [], ["nickname"], "x", 5, undefined]) {
      const error = await rejectsFields(updateProfile(core, s.principal, input as never), [""]);
      assert.equal(error.errors![0]!.message, "must be an object", JSON.stringify(input));
    }
    await rejectsFields(updateProfile(core, s.principal, { nickname: "far too long a nickname", username: "" }), ["nickname", "username"]);
    await rejectsFields(updateProfile(core, s.principal, { city: 5 }), ["city"]);
    await rejectsFields(updateProfile(core, s.principal, { username: "a\u202eb" }), ["username"]);
    const row = (await user(world, userId))!;
    assert.equal(row.profile, "{}");
    assert.equal(row.username, null);
  });

  test("a deleted user: token_invalid; a store that does not answer: 503", async () => {
    const userId = await world.addUser();
    const s = await signInNow(world, userId);
    await rejectsWith(updateProfile(await downCore(), s.principal, { username: "x" }), "service_unavailable", { status: 503 });
    await world.store.db.deleteFrom("users").where("id", "=", userId).execute();
    await rejectsWith(updateProfile(world.core, s.principal, { username: "x" }), "token_invalid", {
      message: UNKNOWN_USER,
      tokenPresented: true,
    });
  });
});

describe("deleteAccount by the user", () => {
  test("with the sign-in still current: deleted, every token refused, the notice queued to the address, its links gone, account.deleted", async () => {
    const userId = await world.addUser();
    const email = (await user(world, userId))!.email;
    const s = await signInNow(world, userId);
    const other = await signInNow(world, userId);
    await linkFor(world, userId, "reset");
    const client = { ip: "203.0.113.3", userAgent: "a browser" };
    await deleteAccount(world.core, userId, {
      actor: "self",
      client,
      sessionId: s.principal.sessionId,
      notify: true,
      principal: s.principal,
    });
    assert.equal(await user(world, userId), undefined);
    assert.deepEqual(await links(world, userId), []);
    for (const token of [s.accessToken, other.accessToken]) await assert.rejects(world.verify(token));
    const mail = await mails(world);
    assert.deepEqual(
      mail.map((m) => [m.template, m.to]),
      [["account_deleted", email]],
    );
    const [event, ...more] = await world.events("account.deleted");
    assert.deepEqual(more, []);
    assert.equal(event!.user_id, userId);
    assert.equal(event!.session_id, s.principal.sessionId);
    assert.equal(event!.actor, "self");
    assert.equal(event!.ip, client.ip);
    assert.equal(event!.user_agent, client.userAgent);
  });

  test("a sign-in revoked before the deletion: token_revoked, nothing deleted, no notice, no event", async () => {
    const userId = await world.addUser();
    const s = await signInNow(world, userId);
    const other = await signInNow(world, userId);
    await world.store.db
      .updateTable("sessions")
      .set({ revoked_at: iso(now) })
      .where("id", "=", s.principal.sessionId)
      .execute();
    await rejectsWith(deleteAccount(world.core, userId, { actor: "self", notify: true, principal: s.principal }), "token_revoked", {
      tokenPresented: true,
    });
    assert.notEqual(await user(world, userId), undefined);
    assert.deepEqual(await liveSessions(world, userId), [other.principal.sessionId]);
    assert.deepEqual(await world.mailTemplates(), []);
    assert.deepEqual(await world.events("account.deleted"), []);
  });

  test("notify false: no notice", async () => {
    const userId = await world.addUser();
    await deleteAccount(world.core, userId, { notify: false });
    assert.deepEqual(await world.mailTemplates(), []);
  });
});
