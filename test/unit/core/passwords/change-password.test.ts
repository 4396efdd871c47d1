// src/core/passwords/change-password.ts and confirm-password.ts over the real core and a real SQLite
// store (test/support/sqlite-core.ts), at unit speed: what `POST /password` changes (the hash, the
// version, the caller's session re-keyed with a new refresh token, every other session revoked, the
// CSRF epoch, the event, the revocation protocol) and what it refuses without changing anything:
// a wrong current password, the policy, a principal that a revocation passed before or during it.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { changePassword } from "../../../../src/core/passwords/change-password.js";
import { confirmPassword, findSignedInUser, requireStillSignedIn } from "../../../../src/core/passwords/confirm-password.js";
import { HashQueue } from "../../../../src/core/passwords/hashing.js";
import { refresh } from "../../../../src/core/sessions/refresh.js";
import type { Core } from "../../../../src/core/context.js";
import type { Principal } from "../../../../src/core/types.js";
import {
  PASSWORD,
  addAccount,
  liveSessions,
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

/** A hash queue of one place: a ticket an operation did not give back makes the next reserve 503. */
function onePlaceQueue() {
  (world.core as { -readonly [K in keyof Core]: Core[K] }).hashQueue = new HashQueue(0, 1);
}

describe("findSignedInUser", () => {
  test("the row of the principal's user, read afresh", async () => {
    const userId = await addAccount(world);
    const { principal } = await signInNow(world, userId);
    const row = await findSignedInUser(world.core, principal);
    assert.equal(row.id, userId);
    assert.equal(row.token_version, 0);
  });

  test("a user that is gone: 401 token_invalid, the token presented", async () => {
    const userId = await addAccount(world);
    const { principal } = await signInNow(world, userId);
    await world.store.db.deleteFrom("users").where("id", "=", userId).execute();
    await rejectsWith(findSignedInUser(world.core, principal), "token_invalid", {
      status: 401,
      tokenPresented: true,
      message: "The token's user is unknown.",
    });
  });

  test("a version other than the token's, either way: 401 token_revoked", async () => {
    const userId = await addAccount(world);
    const { principal } = await signInNow(world, userId);
    for (const version of [1, 7]) {
      await world.store.db.updateTable("users").set({ token_version: version }).where("id", "=", userId).execute();
      await rejectsWith(findSignedInUser(world.core, principal), "token_revoked", {
        status: 401,
        tokenPresented: true,
        message: "The token has been revoked.",
      });
    }
    // A token newer than the row (never made by tokenver, but not equal): refused too.
    await world.store.db.updateTable("users").set({ token_version: 0 }).where("id", "=", userId).execute();
    const ahead: Principal = { ...principal, tokenVersion: 1 };
    await rejectsWith(findSignedInUser(world.core, ahead), "token_revoked");
  });
});

describe("confirmPassword", () => {
  test("the right password resolves to the row; a wrong one is 403 invalid_credentials; the queue place is given back each time", async () => {
    const userId = await addAccount(world);
    const { principal } = await signInNow(world, userId);
    onePlaceQueue();
    const row = await confirmPassword(world.core, principal, PASSWORD);
    assert.equal(row.id, userId);
    await rejectsWith(confirmPassword(world.core, principal, "not the password at all"), "invalid_credentials", {
      status: 403,
      message: "The password is incorrect.",
    });
    // Both tickets were released: a third check still gets the one place.
    assert.equal((await confirmPassword(world.core, principal, PASSWORD)).id, userId);
  });

  test("a revoked version is token_revoked before the password is checked (the re-check count untouched)", async () => {
    const userId = await addAccount(world);
    const { principal } = await signInNow(world, userId);
    await world.store.db.updateTable("users").set({ token_version: 1 }).where("id", "=", userId).execute();
    for (let i = 0; i < 6; i++) await rejectsWith(confirmPassword(world.core, principal, "wrong"), "token_revoked");
    assert.deepEqual(world.revocations, [], "no guess counted, so no session revoked for guessing");
  });
});

describe("requireStillSignedIn", () => {
  test("passes while the version is the account's and the session live; token_revoked once either changed", async () => {
    const userId = await addAccount(world);
    const { principal } = await signInNow(world, userId);
    const inside = (p: Principal) => world.store.db.transaction().execute((trx) => requireStillSignedIn(world.core, trx, p));
    assert.equal(await inside(principal), undefined);
    await rejectsWith(inside({ ...principal, tokenVersion: 1 }), "token_revoked", {
      status: 401,
      tokenPresented: true,
      message: "The token has been revoked.",
    });
    await world.store.db
      .updateTable("sessions")
      .set({ revoked_at: new Date(now).toISOString() })
      .where("id", "=", principal.sessionId)
      .execute();
    await rejectsWith(inside(principal), "token_revoked", { tokenPresented: true });
  });
});

describe("changePassword", () => {
  test("the new password, version + 1, this session re-keyed with a new refresh token, every other session revoked", async () => {
    const userId = await addAccount(world);
    const client = { ip: "203.0.113.7", userAgent: "the caller's browser" };
    const caller = await signInNow(world, userId, { amr: ["pwd", "otp", "mfa"] });
    const phone = await signInNow(world, userId);
    const tablet = await signInNow(world, userId);
    const epoch = (await world.session(caller.principal.sessionId)).csrf_epoch;
    world.revocations.length = 0;
    now += 60_000;

    const pair = await changePassword(world.core, caller.principal, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, client);

    assert.equal(pair.tokenType, "Bearer");
    assert.equal(pair.expiresIn, world.core.config.accessTtl);
    const renewed = await world.verify(pair.accessToken);
    assert.equal(renewed.sessionId, caller.principal.sessionId, "the session continues");
    assert.equal(renewed.tokenVersion, 1);
    assert.deepEqual(renewed.claims.amr, ["pwd", "otp", "mfa"], "how the session signed in, as its token said");
    assert.equal((await user(world, userId))!.token_version, 1);
    assert.equal(await passwordIs(world, userId, NEW_PASSWORD), true);
    assert.equal(await passwordIs(world, userId, PASSWORD), false);

    // The caller's session: re-keyed to version 1, its lifetime renewed from now, its CSRF epoch moved on.
    const session = await world.session(caller.principal.sessionId);
    assert.equal(session.token_version, 1);
    assert.equal(session.revoked_at, null);
    assert.equal(session.last_used_at, new Date(now).toISOString());
    assert.equal(session.expires_at, new Date(now + world.core.config.refreshTtl * 1000).toISOString());
    assert.equal(session.csrf_epoch, epoch + 1);
    // Its old refresh token is dead, the new one rotates (once).
    await rejectsWith(refresh(world.core, caller.refreshToken), "token_revoked");
    const rotated = await refresh(world.core, pair.refreshToken);
    assert.equal((await world.verify(rotated.accessToken)).tokenVersion, 1);

    // Every other session and its tokens: dead.
    assert.deepEqual(await liveSessions(world, userId), [caller.principal.sessionId]);
    for (const other of [phone, tablet]) {
      await rejectsWith(world.verify(other.accessToken), "token_revoked");
      await rejectsWith(refresh(world.core, other.refreshToken), "token_revoked");
    }
    await rejectsWith(world.verify(caller.accessToken), "token_revoked", {}); // the old version

    // The one revocation protocol: the user before the commit, the new version and the revoked sessions after.
    assert.equal(world.revocations[0]!.phase, "before");
    assert.deepEqual(world.revocations[0]!.change, { userId });
    const after = world.revocations.find((r) => r.phase === "after")!.change;
    assert.equal(after.userId, userId);
    assert.equal(after.tokenVersion, 1);
    assert.deepEqual([...after.sessionIds!].sort(), [phone.principal.sessionId, tablet.principal.sessionId].sort());

    const [event, ...more] = await world.events("password.changed");
    assert.deepEqual(more, []);
    assert.equal(event!.user_id, userId);
    assert.equal(event!.session_id, caller.principal.sessionId);
    assert.equal(event!.actor, "self");
    assert.equal(event!.ip, client.ip);
    assert.equal(event!.user_agent, client.userAgent);
    assert.deepEqual(JSON.parse(event!.detail), { revoked_sessions: 2 });
  });

  test("a token without amr gets the default one; alone, no session revoked: revoked_sessions 0", async () => {
    const userId = await addAccount(world);
    const caller = await signInNow(world, userId);
    const bare: Principal = { ...caller.principal, claims: { ...caller.principal.claims, amr: undefined } as Principal["claims"] };
    const pair = await changePassword(world.core, bare, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, {});
    assert.deepEqual((await world.verify(pair.accessToken)).claims.amr, ["pwd"]);
    assert.deepEqual(JSON.parse((await world.events("password.changed"))[0]!.detail), { revoked_sessions: 0 });
  });

  test("not strings: validation_failed naming the first such field, before anything is read", async () => {
    const userId = await addAccount(world);
    const { principal } = await signInNow(world, userId);
    await rejectsFields(changePassword(world.core, principal, { currentPassword: 1, newPassword: NEW_PASSWORD } as never, {}), [
      "currentPassword",
    ]);
    await rejectsFields(changePassword(world.core, principal, { currentPassword: PASSWORD } as never, {}), ["newPassword"]);
    assert.equal((await user(world, userId))!.token_version, 0);
  });

  test("a wrong current password: 403 invalid_credentials, nothing changes, the queue place is given back", async () => {
    const userId = await addAccount(world);
    const caller = await signInNow(world, userId);
    const other = await signInNow(world, userId);
    onePlaceQueue();
    await rejectsWith(
      changePassword(world.core, caller.principal, { currentPassword: "not the password", newPassword: NEW_PASSWORD }, {}),
      "invalid_credentials",
      { status: 403, message: "The current password is incorrect." },
    );
    assert.equal(await passwordIs(world, userId, PASSWORD), true);
    assert.equal((await user(world, userId))!.token_version, 0);
    assert.equal((await world.verify(other.accessToken)).sessionId, other.principal.sessionId);
    assert.deepEqual(await world.events("password.changed"), []);
    // The one place is free again: the right password goes through.
    await changePassword(world.core, caller.principal, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, {});
    assert.equal(await passwordIs(world, userId, NEW_PASSWORD), true);
  });

  test("the policy: validation_failed on newPassword, nothing changes, the queue place is given back", async () => {
    const userId = await addAccount(world);
    const { principal } = await signInNow(world, userId);
    onePlaceQueue();
    const error = await rejectsFields(changePassword(world.core, principal, { currentPassword: PASSWORD, newPassword: "short" }, {}), [
      "newPassword",
    ]);
    assert.ok(error.errors!.length > 0);
    assert.equal(await passwordIs(world, userId, PASSWORD), true);
    assert.equal((await user(world, userId))!.token_version, 0);
    assert.deepEqual(world.revocations, []);
    await changePassword(world.core, principal, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, {});
  });

  test("a version bump committed while it hashed: token_revoked, and neither the password nor the sessions change", async () => {
    const userId = await addAccount(world);
    const caller = await signInNow(world, userId);
    const other = await signInNow(world, userId);
    // Lands after the checks, before the change's transaction (as a racing revocation would).
    world.onBeforeRevoke(async () => {
      await world.store.db.updateTable("users").set({ token_version: 1 }).where("id", "=", userId).execute();
    });
    await rejectsWith(
      changePassword(world.core, caller.principal, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, {}),
      "token_revoked",
      { status: 401, tokenPresented: true, message: "The token has been revoked." },
    );
    assert.equal(await passwordIs(world, userId, PASSWORD), true);
    assert.equal((await user(world, userId))!.token_version, 1, "only the racing bump");
    assert.deepEqual(await liveSessions(world, userId), [caller.principal.sessionId, other.principal.sessionId].sort());
    assert.equal((await world.session(caller.principal.sessionId)).token_version, 0);
    assert.deepEqual(await world.events("password.changed"), []);
  });

  test("the caller's session revoked while it hashed: token_revoked, the version and the password roll back", async () => {
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
    await rejectsWith(
      changePassword(world.core, caller.principal, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, {}),
      "token_revoked",
      { tokenPresented: true },
    );
    assert.equal(await passwordIs(world, userId, PASSWORD), true);
    assert.equal((await user(world, userId))!.token_version, 0);
    assert.deepEqual(await liveSessions(world, userId), [other.principal.sessionId]);
    await refresh(world.core, other.refreshToken);
  });

  test("a user gone: token_invalid before any hashing", async () => {
    const userId = await addAccount(world);
    const { principal } = await signInNow(world, userId);
    await world.store.db.deleteFrom("users").where("id", "=", userId).execute();
    await rejectsWith(changePassword(world.core, principal, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, {}), "token_invalid");
  });
});
