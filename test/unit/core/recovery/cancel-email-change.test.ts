// src/core/recovery/cancel-email-change.ts (`POST /email/cancel`, "this was not me") over the real
// core and a real SQLite store (test/support/sqlite-core.ts): the cancel link is used up, the
// version bumped (the pending change's link dies with it), every session revoked and every link
// deleted, through the one revocation protocol, and the event counts the sessions; a bad, used,
// expired or other-purpose link, or one whose account moved on (before the check or during the
// write), is `link_invalid` and changes nothing.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { cancelEmailChange } from "../../../../src/core/recovery/cancel-email-change.js";
import { verifyEmail } from "../../../../src/core/recovery/verify-email.js";
import { addAccount, linkFor, links, liveSessions, rejectsFields, rejectsWith, signInNow, user } from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

let world: SqliteCore;
let now = Date.parse("2030-01-01T00:00:00.000Z");
beforeEach(async () => {
  world = await sqliteCore({ clock: () => now });
});
afterEach(() => world.close());

/** An account with two sessions, a pending email change (its two links) and a reset link. */
async function pending() {
  const userId = await addAccount(world);
  const sessions = [await signInNow(world, userId), await signInNow(world, userId)];
  const change = await linkFor(world, userId, "email_change", { newEmail: "new@example.test" });
  const cancel = await linkFor(world, userId, "email_cancel");
  await linkFor(world, userId, "reset");
  return { userId, sessions, change, cancel };
}

/** Nothing of a cancellation landed. */
async function unchanged(a: Awaited<ReturnType<typeof pending>>, linkCount = 3) {
  assert.equal((await user(world, a.userId))!.token_version, 0);
  assert.equal((await liveSessions(world, a.userId)).length, 2);
  assert.equal((await links(world, a.userId)).length, linkCount);
  assert.deepEqual(await world.events("email.change_cancelled"), []);
}

describe("cancelEmailChange", () => {
  test("version + 1, every session revoked, every link gone, through the revocation protocol; the event counts the sessions", async () => {
    const a = await pending();
    world.revocations.length = 0;
    const client = { ip: "203.0.113.60", userAgent: "the old address's mail client" };

    assert.equal(await cancelEmailChange(world.core, { token: a.cancel }, client), undefined);

    assert.equal((await user(world, a.userId))!.token_version, 1);
    assert.equal((await user(world, a.userId))!.email.endsWith("@example.test"), true, "the address stays");
    assert.deepEqual(await liveSessions(world, a.userId), []);
    for (const s of a.sessions) await rejectsWith(world.verify(s.accessToken), "token_revoked");
    assert.deepEqual(await links(world, a.userId), [], "the cancel link used up, the others deleted");
    await rejectsWith(verifyEmail(world.core, { token: a.change }, {}), "link_invalid");

    assert.deepEqual(world.revocations[0], { phase: "before", change: { userId: a.userId } });
    const after = world.revocations.find((r) => r.phase === "after")!.change;
    assert.equal(after.userId, a.userId);
    assert.equal(after.tokenVersion, 1);
    assert.deepEqual([...after.sessionIds!].sort(), a.sessions.map((s) => s.principal.sessionId).sort());

    const [event, ...more] = await world.events("email.change_cancelled");
    assert.deepEqual(more, []);
    assert.equal(event!.user_id, a.userId);
    assert.equal(event!.actor, "self");
    assert.equal(event!.ip, client.ip);
    assert.equal(event!.user_agent, client.userAgent);
    assert.deepEqual(JSON.parse(event!.detail), { revoked_sessions: 2 });
  });

  test("without a session: revoked_sessions 0", async () => {
    const userId = await addAccount(world);
    const cancel = await linkFor(world, userId, "email_cancel");
    await cancelEmailChange(world.core, { token: cancel }, {});
    const [event] = await world.events("email.change_cancelled");
    assert.deepEqual(JSON.parse(event!.detail), { revoked_sessions: 0 });
  });

  test("used once: the second use is link_invalid", async () => {
    const a = await pending();
    await cancelEmailChange(world.core, { token: a.cancel }, {});
    await rejectsWith(cancelEmailChange(world.core, { token: a.cancel }, {}), "link_invalid");
    assert.equal((await user(world, a.userId))!.token_version, 1, "bumped once");
    assert.equal((await world.events("email.change_cancelled")).length, 1);
  });

  test("no token: validation_failed; malformed, unknown, another purpose's or expired: link_invalid; nothing changes", async () => {
    const a = await pending();
    await rejectsFields(cancelEmailChange(world.core, {} as never, {}), ["token"]);
    await rejectsWith(cancelEmailChange(world.core, { token: "short" }, {}), "link_invalid");
    await rejectsWith(cancelEmailChange(world.core, { token: "A".repeat(43) }, {}), "link_invalid");
    await rejectsWith(cancelEmailChange(world.core, { token: a.change }, {}), "link_invalid");
    now += 3600 * 1000; // the links of linkFor live an hour
    await rejectsWith(cancelEmailChange(world.core, { token: a.cancel }, {}), "link_invalid");
    now -= 3600 * 1000;
    await unchanged(a);
  });

  test("an account whose version or address moved since the link: link_invalid before the revocation begins, nothing changes", async () => {
    const a = await pending();
    world.revocations.length = 0;
    const db = world.store.db;
    await db.updateTable("users").set({ token_version: 5 }).where("id", "=", a.userId).execute();
    await rejectsWith(cancelEmailChange(world.core, { token: a.cancel }, {}), "link_invalid");
    await db.updateTable("users").set({ token_version: 0, email: "moved@example.test" }).where("id", "=", a.userId).execute();
    await rejectsWith(cancelEmailChange(world.core, { token: a.cancel }, {}), "link_invalid");
    // Refused by the read, not by the write's conditions: no node's cache was disturbed for it.
    assert.deepEqual(world.revocations, []);
    assert.equal((await liveSessions(world, a.userId)).length, 2);
    assert.equal((await links(world, a.userId)).length, 3);
    assert.deepEqual(await world.events("email.change_cancelled"), []);
  });

  test("the link used by another request between the check and the write: link_invalid, nothing changes", async () => {
    const a = await pending();
    world.onBeforeRevoke(async () => {
      await world.store.db.deleteFrom("tokenver_links").where("purpose", "=", "email_cancel").execute();
    });
    await rejectsWith(cancelEmailChange(world.core, { token: a.cancel }, {}), "link_invalid");
    await unchanged(a, 2);
  });

  test("the version moved between the check and the write: link_invalid, and the link is not used up", async () => {
    const a = await pending();
    world.onBeforeRevoke(async () => {
      await world.store.db.updateTable("users").set({ token_version: 7 }).where("id", "=", a.userId).execute();
    });
    await rejectsWith(cancelEmailChange(world.core, { token: a.cancel }, {}), "link_invalid");
    assert.equal((await user(world, a.userId))!.token_version, 7);
    assert.equal((await liveSessions(world, a.userId)).length, 2);
    assert.equal((await links(world, a.userId)).length, 3, "rolled back with the rest");
    assert.deepEqual(await world.events("email.change_cancelled"), []);
  });

  test("the address moved between the check and the write: link_invalid, nothing changes", async () => {
    const a = await pending();
    world.onBeforeRevoke(async () => {
      await world.store.db.updateTable("users").set({ email: "moved@example.test" }).where("id", "=", a.userId).execute();
    });
    await rejectsWith(cancelEmailChange(world.core, { token: a.cancel }, {}), "link_invalid");
    await unchanged(a);
  });
});
