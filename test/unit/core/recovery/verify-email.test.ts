// src/core/recovery/verify-email.ts (`POST /email/verify`) over the real core and a real SQLite store
// (test/support/sqlite-core.ts), at unit speed. A registration's link marks the address verified
// (no revocation; the node's user row forgotten); an email change's link switches the address,
// bumps the version, revokes every session and every link, and tells the old address. Either link
// holds only while the account's address and version are the ones it was made for, and is used up
// once; `email_taken` when the new address was registered meanwhile. Every refusal changes nothing.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, test } from "node:test";
import { sql } from "kysely";
import { getUser } from "../../../../src/core/accounts/profile.js";
import { hashLinkToken } from "../../../../src/core/recovery/link.js";
import { verifyEmail } from "../../../../src/core/recovery/verify-email.js";
import { insertUser } from "../../../../src/store/queries/users.js";
import { linkFor, links, liveSessions, mails, rejectsFields, rejectsWith, signInNow, user } from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

let world: SqliteCore;
let now = Date.parse("2030-01-01T00:00:00.000Z");
beforeEach(async () => {
  world = await sqliteCore({ clock: () => now });
});
afterEach(() => world.close());

const NEW_EMAIL = "the-new-address@example.test";

describe("verifyEmail: input and lookup", () => {
  test("not a string: validation_failed on token", async () => {
    await rejectsFields(verifyEmail(world.core, { token: 7 } as never, {}), ["token"]);
    await rejectsFields(verifyEmail(world.core, {} as never, {}), ["token"]);
  });

  test("unknown, malformed, a reset or cancel link, expired: link_invalid, nothing changes", async () => {
    const userId = await world.addUser();
    const reset = await linkFor(world, userId, "reset");
    const cancel = await linkFor(world, userId, "email_cancel");
    const expired = await linkFor(world, userId, "verify", { ttl: 60 });
    const expiredChange = await linkFor(world, userId, "email_change", { newEmail: NEW_EMAIL, ttl: 60 });
    now += 60_000;
    for (const token of ["B".repeat(43), "not a token", reset, cancel, expired, expiredChange]) {
      await rejectsWith(verifyEmail(world.core, { token }, {}), "link_invalid", {
        status: 400,
        message: "The link is unknown, used, superseded or expired.",
      });
    }
    const row = (await user(world, userId))!;
    assert.equal(row.email_verified_at, null);
    assert.equal(row.token_version, 0);
    assert.equal((await links(world, userId)).length, 4);
  });
});

describe("verifyEmail: a registration's link", () => {
  test("the address verified, the version kept, the sessions alive; the user as it now is; once", async () => {
    const userId = await world.addUser();
    const session = await signInNow(world, userId);
    // The node's user row, cached at version 0 with the address unverified.
    assert.equal((await getUser(world.core, session.principal)).emailVerified, false);
    const token = await linkFor(world, userId, "verify");
    now += 60_000;

    const verified = await verifyEmail(world.core, { token }, {});
    assert.equal(verified.id, userId);
    assert.equal(verified.emailVerified, true);
    assert.equal(verified.tokenVersion, 0, "verifying is no revocation");
    const row = (await user(world, userId))!;
    assert.equal(row.email_verified_at, new Date(now).toISOString());
    assert.equal(row.updated_at, new Date(now).toISOString());
    assert.equal(row.token_version, 0);
    assert.deepEqual(await liveSessions(world, userId), [session.principal.sessionId]);
    assert.deepEqual(world.revocations, []);
    // The write was announced: the node forgot its copy of the row.
    assert.equal((await getUser(world.core, session.principal)).emailVerified, true);
    assert.deepEqual(await links(world, userId), [], "used up");
    await rejectsWith(verifyEmail(world.core, { token }, {}), "link_invalid");
  });

  test("an address verified before keeps its instant", async () => {
    const userId = await world.addUser();
    const verifiedAt = "2029-06-01T00:00:00.000Z";
    await world.store.db.updateTable("users").set({ email_verified_at: verifiedAt }).where("id", "=", userId).execute();
    const token = await linkFor(world, userId, "verify");
    await verifyEmail(world.core, { token }, {});
    assert.equal((await user(world, userId))!.email_verified_at, verifiedAt);
  });

  test("the account's address or version changed since the link: link_invalid, the address not verified", async () => {
    const userId = await world.addUser();
    const email = (await user(world, userId))!.email;
    for (const bound of [{ email: `old-${email}` }, { tokenVersion: 3 }]) {
      const token = await linkFor(world, userId, "verify", bound);
      await rejectsWith(verifyEmail(world.core, { token }, {}), "link_invalid");
      // The transaction rolled back: the link is not used up by a refusal.
      assert.ok((await links(world, userId)).some((l) => l.token_hash === hashLinkToken(token)));
    }
    assert.equal((await user(world, userId))!.email_verified_at, null);
  });

  test("used by another request after the lookup: link_invalid", async () => {
    const userId = await world.addUser();
    const token = await linkFor(world, userId, "verify");
    // Delete the link the moment after findLink read it: the conditional DELETE finds nothing.
    const db = world.store.db;
    const transaction = db.transaction.bind(db);
    (db as { transaction: typeof db.transaction }).transaction = () => {
      (db as { transaction: typeof db.transaction }).transaction = transaction;
      return {
        execute: async <T>(fn: Parameters<ReturnType<typeof transaction>["execute"]>[0]) => {
          await db.deleteFrom("tokenver_links").where("token_hash", "=", hashLinkToken(token)).execute();
          return transaction().execute(fn as never) as Promise<T>;
        },
      } as ReturnType<typeof transaction>;
    };
    await rejectsWith(verifyEmail(world.core, { token }, {}), "link_invalid");
    assert.equal((await user(world, userId))!.email_verified_at, null);
  });
});

describe("verifyEmail: an email change's link", () => {
  test("the new address, verified; version + 1; every session and link gone; the old address told; the event", async () => {
    const userId = await world.addUser();
    const oldEmail = (await user(world, userId))!.email;
    const first = await signInNow(world, userId);
    const second = await signInNow(world, userId);
    const token = await linkFor(world, userId, "email_change", { newEmail: NEW_EMAIL });
    await linkFor(world, userId, "email_cancel");
    await linkFor(world, userId, "reset");
    world.revocations.length = 0;
    now += 60_000;
    const client = { ip: "192.0.2.44", userAgent: "the new mailbox's browser" };

    const changed = await verifyEmail(world.core, { token }, client);
    assert.equal(changed.id, userId);
    assert.equal(changed.email, NEW_EMAIL);
    assert.equal(changed.emailVerified, true);
    assert.equal(changed.tokenVersion, 1);
    const row = (await user(world, userId))!;
    assert.equal(row.email, NEW_EMAIL);
    assert.equal(row.email_verified_at, new Date(now).toISOString());
    assert.equal(row.token_version, 1);
    assert.deepEqual(await liveSessions(world, userId), []);
    for (const s of [first, second]) await rejectsWith(world.verify(s.accessToken), "token_revoked");
    assert.deepEqual(await links(world, userId), [], "the link used up, the cancel and reset links deleted");

    const queued = await mails(world);
    assert.equal(queued.length, 1);
    assert.equal(queued[0]!.template, "email_changed");
    assert.equal(queued[0]!.to, oldEmail);
    assert.ok(queued[0]!.text.includes(NEW_EMAIL), queued[0]!.text);

    assert.deepEqual(world.revocations[0], { phase: "before", change: { userId } });
    const after = world.revocations.find((r) => r.phase === "after")!.change;
    assert.equal(after.userId, userId);
    assert.equal(after.tokenVersion, 1);
    assert.deepEqual([...after.sessionIds!].sort(), [first.principal.sessionId, second.principal.sessionId].sort());

    const [event, ...more] = await world.events("email.changed");
    assert.deepEqual(more, []);
    assert.equal(event!.user_id, userId);
    assert.equal(event!.actor, "self");
    assert.equal(event!.ip, client.ip);
    assert.equal(event!.user_agent, client.userAgent);
    assert.deepEqual(JSON.parse(event!.detail), { revoked_sessions: 2 });
    await rejectsWith(verifyEmail(world.core, { token }, {}), "link_invalid");
  });

  test("no session: revoked_sessions 0", async () => {
    const userId = await world.addUser();
    const token = await linkFor(world, userId, "email_change", { newEmail: NEW_EMAIL });
    await verifyEmail(world.core, { token }, {});
    assert.deepEqual(JSON.parse((await world.events("email.changed"))[0]!.detail), { revoked_sessions: 0 });
  });

  test("the new address registered meanwhile: email_taken (409), nothing changes", async () => {
    const userId = await world.addUser();
    const oldEmail = (await user(world, userId))!.email;
    const session = await signInNow(world, userId);
    const token = await linkFor(world, userId, "email_change", { newEmail: NEW_EMAIL });
    await insertUser(world.store.db, {
      id: randomUUID(),
      email: NEW_EMAIL,
      username: null,
      password_hash: "$argon2id$not-a-real-hash",
      profile: "{}",
      now: new Date(now).toISOString(),
    });
    await rejectsWith(verifyEmail(world.core, { token }, {}), "email_taken", {
      status: 409,
      message: "An account with this email already exists.",
    });
    const row = (await user(world, userId))!;
    assert.equal(row.email, oldEmail);
    assert.equal(row.token_version, 0);
    assert.deepEqual(await liveSessions(world, userId), [session.principal.sessionId]);
    assert.equal((await links(world, userId)).length, 1, "rolled back: the link is still there");
    assert.deepEqual(await mails(world), []);
    assert.deepEqual(await world.events("email.changed"), []);
  });

  test("a store failure while switching is no email_taken: 503 service_unavailable, and nothing changes", async () => {
    const userId = await world.addUser();
    const email = (await user(world, userId))!.email;
    const token = await linkFor(world, userId, "email_change", { newEmail: NEW_EMAIL });
    // A real failure of the store's UPDATE that is not a unique violation.
    await sql`CREATE TRIGGER refuse_address BEFORE UPDATE OF email ON users BEGIN SELECT RAISE(ABORT, 'the store failed'); END`.execute(
      world.store.db,
    );
    await rejectsWith(verifyEmail(world.core, { token }, {}), "service_unavailable", { status: 503 });
    await sql`DROP TRIGGER refuse_address`.execute(world.store.db);
    const row = (await user(world, userId))!;
    assert.equal(row.email, email);
    assert.equal(row.token_version, 0);
    assert.equal((await links(world, userId)).length, 1, "rolled back: the link is still there");
  });

  test("the account changed since the link (version, address) or gone: link_invalid, nothing changes", async () => {
    const userId = await world.addUser();
    const email = (await user(world, userId))!.email;
    const session = await signInNow(world, userId);
    const otherVersion = await linkFor(world, userId, "email_change", { newEmail: NEW_EMAIL, tokenVersion: 2 });
    await rejectsWith(verifyEmail(world.core, { token: otherVersion }, {}), "link_invalid");
    const otherAddress = await linkFor(world, userId, "email_change", { newEmail: NEW_EMAIL, email: `old-${email}` });
    await rejectsWith(verifyEmail(world.core, { token: otherAddress }, {}), "link_invalid");
    const row = (await user(world, userId))!;
    assert.equal(row.email, email);
    assert.equal(row.token_version, 0);
    assert.deepEqual(await liveSessions(world, userId), [session.principal.sessionId]);
    assert.deepEqual(await mails(world), []);
    assert.deepEqual(world.revocations, [], "refused by the read, before any revocation started");

    const goneId = await world.addUser();
    const gone = await linkFor(world, goneId, "email_change", { newEmail: "gone@example.test" });
    await world.store.db.deleteFrom("users").where("id", "=", goneId).execute();
    await rejectsWith(verifyEmail(world.core, { token: gone }, {}), "link_invalid");
    assert.deepEqual(world.revocations, []);
  });

  test("a link of the purpose without a new address: link_invalid, nothing changes", async () => {
    const userId = await world.addUser();
    const session = await signInNow(world, userId);
    const token = await linkFor(world, userId, "email_change");
    await rejectsWith(verifyEmail(world.core, { token }, {}), "link_invalid");
    assert.equal((await user(world, userId))!.token_version, 0);
    assert.deepEqual(await liveSessions(world, userId), [session.principal.sessionId]);
  });

  test("used, or the account changed, while it was checked: link_invalid, all rolled back", async () => {
    for (const race of ["used", "version", "address"] as const) {
      const userId = await world.addUser();
      const email = (await user(world, userId))!.email;
      const session = await signInNow(world, userId);
      const token = await linkFor(world, userId, "email_change", { newEmail: `${race}-${NEW_EMAIL}` });
      world.onBeforeRevoke(async () => {
        if (race === "used") await world.store.db.deleteFrom("tokenver_links").where("token_hash", "=", hashLinkToken(token)).execute();
        else {
          await world.store.db
            .updateTable("users")
            .set(race === "version" ? { token_version: 4 } : { email: `moved-${email}` })
            .where("id", "=", userId)
            .execute();
        }
      });
      await rejectsWith(verifyEmail(world.core, { token }, {}), "link_invalid", { status: 400 });
      const row = (await user(world, userId))!;
      assert.notEqual(row.email, `${race}-${NEW_EMAIL}`, race);
      assert.equal(row.token_version, race === "version" ? 4 : 0, race);
      assert.deepEqual(await liveSessions(world, userId), [session.principal.sessionId], race);
    }
    assert.deepEqual(await mails(world), []);
    assert.deepEqual(await world.events("email.changed"), []);
  });
});
