// src/core/recovery/reset-password.ts (`POST /password/reset`) over the real core and a real SQLite
// store (test/support/sqlite-core.ts), at unit speed: the link checked, the policy, then in one
// transaction the link used up, the password replaced and the version bumped only while the account
// is the link's, every session revoked, every other link deleted, the address verified, the notice
// queued; and every refusal `link_invalid` or `validation_failed` with nothing changed.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import type { Core } from "../../../../src/core/context.js";
import { HashQueue } from "../../../../src/core/passwords/hashing.js";
import { hashLinkToken } from "../../../../src/core/recovery/link.js";
import { resetPassword } from "../../../../src/core/recovery/reset-password.js";
import { refresh } from "../../../../src/core/sessions/refresh.js";
import {
  PASSWORD,
  addAccount,
  linkFor,
  links,
  liveSessions,
  mails,
  passwordIs,
  rejectsFields,
  rejectsWith,
  setPassword,
  signInNow,
  user,
} from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

const NEW_PASSWORD = "a brand new and private passphrase";
let world: SqliteCore;
let now = Date.parse("2030-01-01T00:00:00.000Z");
beforeEach(async () => {
  world = await sqliteCore({ clock: () => now });
});
afterEach(() => world.close());

/** Nothing of a reset landed: the password, the version, the sessions, the links, no mail, no event. */
async function unchanged(userId: string, sessionIds: string[], linkCount: number) {
  assert.equal(await passwordIs(world, userId, PASSWORD), true, "the password is unchanged");
  assert.equal((await user(world, userId))!.email_verified_at, null, "the address not verified");
  assert.deepEqual(await liveSessions(world, userId), [...sessionIds].sort());
  assert.equal((await links(world, userId)).length, linkCount);
  assert.deepEqual(await mails(world), []);
  assert.deepEqual(await world.events("password.reset"), []);
}

describe("resetPassword", () => {
  test("the new password, version + 1, every session and every other link gone, the address verified, the notice, the event", async () => {
    const userId = await addAccount(world);
    const email = (await user(world, userId))!.email;
    const first = await signInNow(world, userId);
    const second = await signInNow(world, userId);
    await linkFor(world, userId, "verify");
    await linkFor(world, userId, "email_change", { newEmail: "elsewhere@example.test" });
    const token = await linkFor(world, userId, "reset");
    world.revocations.length = 0;
    now += 60_000;
    const client = { ip: "198.51.100.4", userAgent: "a mail client's browser" };

    assert.equal(await resetPassword(world.core, { token, newPassword: NEW_PASSWORD }, client), undefined);

    const row = (await user(world, userId))!;
    assert.equal(row.token_version, 1);
    assert.equal(await passwordIs(world, userId, NEW_PASSWORD), true);
    assert.equal(await passwordIs(world, userId, PASSWORD), false);
    assert.equal(row.email_verified_at, new Date(now).toISOString(), "the link proved the address");
    assert.equal(row.email, email);
    assert.deepEqual(await liveSessions(world, userId), []);
    for (const s of [first, second]) {
      await rejectsWith(world.verify(s.accessToken), "token_revoked");
      await assert.rejects(refresh(world.core, s.refreshToken));
    }
    assert.deepEqual(await links(world, userId), [], "the reset link used up, the others deleted");
    const queued = await mails(world);
    assert.equal(queued.length, 1);
    assert.equal(queued[0]!.template, "password_reset_done");
    assert.equal(queued[0]!.to, email);

    assert.deepEqual(world.revocations[0], { phase: "before", change: { userId } });
    const after = world.revocations.find((r) => r.phase === "after")!.change;
    assert.equal(after.userId, userId);
    assert.equal(after.tokenVersion, 1);
    assert.deepEqual([...after.sessionIds!].sort(), [first.principal.sessionId, second.principal.sessionId].sort());

    const [event, ...more] = await world.events("password.reset");
    assert.deepEqual(more, []);
    assert.equal(event!.user_id, userId);
    assert.equal(event!.session_id, null);
    assert.equal(event!.actor, "self");
    assert.equal(event!.ip, client.ip);
    assert.equal(event!.user_agent, client.userAgent);
    assert.deepEqual(JSON.parse(event!.detail), { revoked_sessions: 2 });

    // Used up: the same link again is link_invalid, and the password stays the reset's.
    await rejectsWith(resetPassword(world.core, { token, newPassword: "yet another passphrase here" }, {}), "link_invalid", {
      status: 400,
      message: "The link is unknown, used, superseded or expired.",
    });
    assert.equal(await passwordIs(world, userId, NEW_PASSWORD), true);
  });

  test("an address verified before keeps its instant; no session: revoked_sessions 0", async () => {
    const userId = await addAccount(world);
    const verifiedAt = "2029-06-01T00:00:00.000Z";
    await world.store.db.updateTable("users").set({ email_verified_at: verifiedAt }).where("id", "=", userId).execute();
    const token = await linkFor(world, userId, "reset");
    await resetPassword(world.core, { token, newPassword: NEW_PASSWORD }, {});
    assert.equal((await user(world, userId))!.email_verified_at, verifiedAt);
    assert.deepEqual(JSON.parse((await world.events("password.reset"))[0]!.detail), { revoked_sessions: 0 });
  });

  test("not strings: validation_failed naming the field, before any lookup", async () => {
    const userId = await addAccount(world);
    const token = await linkFor(world, userId, "reset");
    await rejectsFields(resetPassword(world.core, { token: 42, newPassword: NEW_PASSWORD } as never, {}), ["token"]);
    await rejectsFields(resetPassword(world.core, { token } as never, {}), ["newPassword"]);
    await unchanged(userId, [], 1);
  });

  test("unknown, malformed, of another purpose, or expired: link_invalid, nothing changes", async () => {
    const userId = await addAccount(world);
    const session = await signInNow(world, userId);
    const verify = await linkFor(world, userId, "verify");
    const cancel = await linkFor(world, userId, "email_cancel");
    const expired = await linkFor(world, userId, "reset", { ttl: 60 });
    now += 60_000;
    for (const token of ["A".repeat(43), "short", verify, cancel, expired]) {
      await rejectsWith(resetPassword(world.core, { token, newPassword: NEW_PASSWORD }, {}), "link_invalid");
    }
    await unchanged(userId, [session.principal.sessionId], 3);
  });

  test("one second before its expiry it still works", async () => {
    const userId = await addAccount(world);
    const token = await linkFor(world, userId, "reset", { ttl: 60 });
    now += 59_999;
    await resetPassword(world.core, { token, newPassword: NEW_PASSWORD }, {});
    assert.equal(await passwordIs(world, userId, NEW_PASSWORD), true);
  });

  test("the account changed since the link (version, address) or gone: link_invalid, nothing changes", async () => {
    const userId = await addAccount(world);
    const email = (await user(world, userId))!.email;
    const oldVersion = await linkFor(world, userId, "reset", { tokenVersion: 0 });
    await world.store.db.updateTable("users").set({ token_version: 1 }).where("id", "=", userId).execute();
    await rejectsWith(resetPassword(world.core, { token: oldVersion, newPassword: NEW_PASSWORD }, {}), "link_invalid");
    const otherAddress = await linkFor(world, userId, "reset", { email: `old-${email}` });
    await rejectsWith(resetPassword(world.core, { token: otherAddress, newPassword: NEW_PASSWORD }, {}), "link_invalid");
    assert.equal(await passwordIs(world, userId, PASSWORD), true);
    assert.equal((await user(world, userId))!.token_version, 1);
    assert.deepEqual(await mails(world), []);
    // Refused by the read before anything else: no revocation started, the policy and the hash queue never asked.
    assert.deepEqual(world.revocations, []);
    (world.core as { -readonly [K in keyof Core]: Core[K] }).hashQueue = new HashQueue(0, 0);
    await rejectsWith(resetPassword(world.core, { token: otherAddress, newPassword: "short" }, {}), "link_invalid");

    const goneId = await addAccount(world);
    const gone = await linkFor(world, goneId, "reset");
    await world.store.db.deleteFrom("users").where("id", "=", goneId).execute();
    await rejectsWith(resetPassword(world.core, { token: gone, newPassword: NEW_PASSWORD }, {}), "link_invalid");
    assert.deepEqual(world.revocations, []);
  });

  test("the policy: validation_failed on newPassword, and the link stays usable", async () => {
    const userId = await addAccount(world);
    const token = await linkFor(world, userId, "reset");
    await rejectsFields(resetPassword(world.core, { token, newPassword: "short" }, {}), ["newPassword"]);
    await unchanged(userId, [], 1);
    await resetPassword(world.core, { token, newPassword: NEW_PASSWORD }, {});
    assert.equal(await passwordIs(world, userId, NEW_PASSWORD), true);
  });

  test("the hash queue's place is given back (a queue of one place takes two resets in a row)", async () => {
    (world.core as { -readonly [K in keyof Core]: Core[K] }).hashQueue = new HashQueue(0, 1);
    for (let i = 0; i < 2; i++) {
      const userId = await addAccount(world);
      await resetPassword(world.core, { token: await linkFor(world, userId, "reset"), newPassword: NEW_PASSWORD }, {});
      assert.equal(await passwordIs(world, userId, NEW_PASSWORD), true);
    }
  });

  test("the link used by another request while this one hashed: link_invalid, nothing of this reset lands", async () => {
    const userId = await addAccount(world);
    const session = await signInNow(world, userId);
    const token = await linkFor(world, userId, "reset");
    world.onBeforeRevoke(async () => {
      await world.store.db.deleteFrom("tokenver_links").where("token_hash", "=", hashLinkToken(token)).execute();
    });
    await rejectsWith(resetPassword(world.core, { token, newPassword: NEW_PASSWORD }, {}), "link_invalid");
    await unchanged(userId, [session.principal.sessionId], 0);
    assert.equal((await user(world, userId))!.token_version, 0);
  });

  test("a version bump or an address change committed while it hashed: link_invalid, all rolled back", async () => {
    for (const race of ["version", "address"] as const) {
      const userId = await addAccount(world);
      const session = await signInNow(world, userId);
      const other = await linkFor(world, userId, "verify");
      const token = await linkFor(world, userId, "reset");
      const before = (await user(world, userId))!;
      world.onBeforeRevoke(async () => {
        await world.store.db
          .updateTable("users")
          .set(race === "version" ? { token_version: 5 } : { email: `moved-${before.email}` })
          .where("id", "=", userId)
          .execute();
      });
      await rejectsWith(resetPassword(world.core, { token, newPassword: NEW_PASSWORD }, {}), "link_invalid", { status: 400 });
      const row = (await user(world, userId))!;
      assert.equal(row.token_version, race === "version" ? 5 : 0, race);
      assert.equal(await passwordIs(world, userId, PASSWORD), true, race);
      assert.equal(row.email_verified_at, null, race);
      assert.deepEqual(await liveSessions(world, userId), [session.principal.sessionId], race);
      // The transaction rolled back: the link is still there (dead now by its binding), and the other one too.
      assert.deepEqual((await links(world, userId)).map((l) => l.purpose).sort(), ["reset", "verify"], race);
      assert.ok(other.length > 0);
    }
    assert.deepEqual(await mails(world), []);
    assert.deepEqual(await world.events("password.reset"), []);
  });
});
