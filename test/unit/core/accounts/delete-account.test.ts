// src/core/accounts/delete-account.ts by an administrator or the system, over the real core and a
// real SQLite store in memory (test/support/sqlite-core.ts): what the revocation protocol is told
// (the version after the deleted one, every live session), the last enabled administrator refused
// before any node is disturbed, and the refusals decided inside the deleting transaction (a racing
// write lands in the spy's beforeRevoke step) leaving everything as it was.
// profile-delete.test.ts covers the deletion by the user (the sign-in re-checked, the notice).
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { deleteAccount } from "../../../../src/core/accounts/delete-account.js";
import { iso, linkFor, links, liveSessions, rejectsWith, signInNow, user } from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

const LAST_ADMIN = "The last enabled administrator cannot be disabled, demoted or deleted.";

let world: SqliteCore;
const now = Date.parse("2030-01-01T00:00:00.000Z");
beforeEach(async () => {
  world = await sqliteCore({ clock: () => now });
});
afterEach(() => world.close());

async function admin(disabled = false): Promise<string> {
  const id = await world.addUser();
  await world.store.db
    .updateTable("users")
    .set({ role: "admin", disabled_at: disabled ? iso(now) : null })
    .where("id", "=", id)
    .execute();
  return id;
}

/** Everything a refused deletion must leave as it was. */
async function untouched(userId: string, live: string[]): Promise<void> {
  assert.notEqual(await user(world, userId), undefined, "the user is still there");
  assert.deepEqual(await liveSessions(world, userId), [...live].sort(), "its sessions are live");
  assert.equal((await links(world, userId)).length, 1, "its link is still there");
  assert.deepEqual(await world.mailTemplates(), [], "no notice");
  assert.deepEqual(await world.events("account.deleted"), [], "no event");
}

describe("deleteAccount by an administrator or the system", () => {
  test("the revocation names the version after the deleted one and every live session; account.deleted by system by default", async () => {
    const userId = await world.addUser();
    await world.store.db.updateTable("users").set({ token_version: 3 }).where("id", "=", userId).execute();
    const a = await signInNow(world, userId);
    const b = await signInNow(world, userId);
    const revoked = await signInNow(world, userId);
    await world.store.db
      .updateTable("sessions")
      .set({ revoked_at: iso(now) })
      .where("id", "=", revoked.principal.sessionId)
      .execute();
    const bystander = await world.addUser();
    const theirs = await signInNow(world, bystander);
    world.revocations.length = 0;
    await deleteAccount(world.core, userId, { notify: true });
    assert.equal(await user(world, userId), undefined);
    const sessionIds = [a.principal.sessionId, b.principal.sessionId].sort();
    const [before, after, ...more] = world.revocations;
    assert.deepEqual(more, []);
    assert.deepEqual(before, { phase: "before", change: { userId } });
    assert.equal(after!.phase, "after");
    assert.deepEqual(
      { ...after!.change, sessionIds: [...(after!.change.sessionIds ?? [])].sort() },
      { userId, tokenVersion: 4, sessionIds },
    );
    assert.deepEqual(await liveSessions(world, bystander), [theirs.principal.sessionId], "another user's sessions stay");
    assert.equal((await world.verify(theirs.accessToken)).userId, bystander);
    const [event, ...others] = await world.events("account.deleted");
    assert.deepEqual(others, []);
    assert.equal(event!.user_id, userId);
    assert.equal(event!.actor, "system");
    assert.equal(event!.session_id, null);
    assert.equal(event!.ip, null);
  });

  test("an unknown or impossible id: not_found, and no node is disturbed", async () => {
    for (const id of ["00000000-0000-4000-8000-000000000000", "", "x".repeat(65)]) {
      await rejectsWith(deleteAccount(world.core, id), "not_found", { status: 404, message: "No such user." });
    }
    assert.deepEqual(world.revocations, []);
  });

  test("the last enabled administrator: forbidden before the revocation begins (no node disturbed), nothing written", async () => {
    const only = await admin();
    await admin(true); // a disabled admin does not count
    const s = await signInNow(world, only);
    await linkFor(world, only, "reset");
    world.revocations.length = 0;
    await rejectsWith(deleteAccount(world.core, only, { notify: true, actor: "cli" }), "forbidden", { status: 403, message: LAST_ADMIN });
    assert.deepEqual(world.revocations, [], "refused by the early check: the revocation state is never told");
    await untouched(only, [s.principal.sessionId]);
    assert.equal((await world.verify(s.accessToken)).userId, only);
  });

  test("an admin beside another enabled admin is deleted", async () => {
    const one = await admin();
    const other = await admin();
    await deleteAccount(world.core, one, { actor: other });
    assert.equal(await user(world, one), undefined);
    assert.equal((await world.events("account.deleted"))[0]!.actor, other);
  });

  test("the other admin disabled after the early check: the conditional delete refuses, forbidden, everything rolled back", async () => {
    const one = await admin();
    const other = await admin();
    const s = await signInNow(world, one);
    await linkFor(world, one, "reset");
    world.onBeforeRevoke(async () => {
      await world.store.db
        .updateTable("users")
        .set({ disabled_at: iso(now) })
        .where("id", "=", other)
        .execute();
    });
    await rejectsWith(deleteAccount(world.core, one, { notify: true }), "forbidden", { message: LAST_ADMIN });
    await untouched(one, [s.principal.sessionId]);
    assert.equal((await world.verify(s.accessToken)).userId, one);
  });

  test("the user deleted by a racing request after the first check: not_found, nothing else written", async () => {
    const userId = await world.addUser();
    const bystander = await world.addUser();
    await linkFor(world, bystander, "reset");
    world.onBeforeRevoke(async () => {
      await world.store.db.deleteFrom("users").where("id", "=", userId).execute();
    });
    await rejectsWith(deleteAccount(world.core, userId, { notify: true }), "not_found", { message: "No such user." });
    assert.deepEqual(await world.mailTemplates(), []);
    assert.deepEqual(await world.events("account.deleted"), []);
    assert.notEqual(await user(world, bystander), undefined);
  });
});
