// The server-side admin actions of src/core/users/ (disableUser, enableUser, logoutUser, setRole,
// revokeUserSession, requireAdmin) and the admin's deleteAccount, over the real core and a real
// SQLite store in memory (test/support/sqlite-core.ts), at unit speed: the last-admin rule (refused
// before anything is marked in flight, and again by the write when a racing request made the
// target the last admin), every session and token revoked at once through the one revocation
// protocol, unknown and made-up ids `not_found` before the store is asked, a store that does not
// answer `503`, who acted in the event, and an admin's request checked again inside the action's
// transaction (`options.admin`). test/admin-api.test.ts drives the same over HTTP.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import type { Kysely } from "kysely";
import { deleteAccount } from "../../../../src/core/accounts/delete-account.js";
import { getUser } from "../../../../src/core/accounts/profile.js";
import type { Core } from "../../../../src/core/context.js";
import { refresh } from "../../../../src/core/sessions/refresh.js";
import type { Principal } from "../../../../src/core/types.js";
import { createUser } from "../../../../src/core/users/create-user.js";
import { disableUser } from "../../../../src/core/users/disable-user.js";
import { enableUser } from "../../../../src/core/users/enable-user.js";
import { logoutUser } from "../../../../src/core/users/logout-user.js";
import { requireAdmin } from "../../../../src/core/users/require-admin.js";
import { revokeUserSession } from "../../../../src/core/users/revoke-user-session.js";
import { setRole } from "../../../../src/core/users/set-role.js";
import { openStore } from "../../../../src/store/database.js";
import type { Database } from "../../../../src/store/schema.js";
import { iso, liveSessions, rejectsFields, rejectsWith, signInNow, user } from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

const NO_USER = "No such user.";
const LAST_ADMIN = "The last enabled administrator cannot be disabled, demoted or deleted.";
const NO_SESSION = "No such session.";
const NOT_ADMIN = "This needs an administrator.";

let world: SqliteCore;
let now = Date.parse("2030-01-01T00:00:00.000Z");
beforeEach(async () => {
  world = await sqliteCore({ clock: () => now });
});
afterEach(() => world.close());

async function admin(): Promise<string> {
  const id = await world.addUser();
  await world.store.db.updateTable("users").set({ role: "admin" }).where("id", "=", id).execute();
  return id;
}

/** The core over a store that does not answer: whatever reaches it is a 503. */
async function downCore(): Promise<Core> {
  const closed = await openStore("sqlite::memory:");
  await closed.close();
  return { ...world.core, db: closed.db };
}

/** `core` whose store runs `step` (synchronously, on the driver) right after the operation's first query: a racing request's write. */
function afterFirstQuery(step: () => void): Core {
  let done = false;
  const db: Kysely<Database> = world.store.db.withPlugin({
    transformQuery: (args) => args.node,
    transformResult: async (args) => {
      if (!done) {
        done = true;
        step();
      }
      return args.result;
    },
  });
  return { ...world.core, db };
}

const removeUser = (userId: string) => () => void world.store.sqlite!.prepare("DELETE FROM users WHERE id = ?").run(userId);

async function events(type: string) {
  return (await world.events(type)).map((e) => ({ user: e.user_id, actor: e.actor, session: e.session_id, detail: JSON.parse(e.detail) }));
}

/** The user's sessions and tokens are all refused: the access tokens by verify(), the refresh tokens by refresh(). */
async function allDead(signIns: Array<{ accessToken: string; refreshToken: string }>) {
  for (const s of signIns) {
    await rejectsWith(world.verify(s.accessToken), "token_revoked");
    await assert.rejects(refresh(world.core, s.refreshToken));
  }
}

describe("disableUser", () => {
  test("bumps the version and revokes every session in one committed change; sign-in is then refused; admin.disable with the actor", async () => {
    const userId = await world.addUser();
    const signIns = [await signInNow(world, userId), await signInNow(world, userId)];
    world.revocations.length = 0;
    now += 1000;
    await disableUser(world.core, userId, { actor: "cli" });

    const row = (await user(world, userId))!;
    assert.equal(row.token_version, 1);
    assert.equal(row.disabled_at, iso(now));
    assert.deepEqual(await liveSessions(world, userId), []);
    await allDead(signIns);
    assert.deepEqual(world.revocations.length, 2);
    assert.deepEqual(world.revocations[0], { phase: "before", change: { userId } });
    const after = world.revocations[1]!;
    assert.equal(after.phase, "after");
    assert.equal(after.change.tokenVersion, 1);
    assert.deepEqual([...after.change.sessionIds!].sort(), signIns.map((s) => s.principal.sessionId).sort());
    assert.deepEqual(await events("admin.disable"), [{ user: userId, actor: "cli", session: null, detail: {} }]);
  });

  test("the actor defaults to system; disabling twice revokes again and keeps the first instant", async () => {
    const userId = await world.addUser();
    await disableUser(world.core, userId);
    const first = (await user(world, userId))!.disabled_at;
    now += 5000;
    const late = await signInNow(world, userId);
    await disableUser(world.core, userId);
    assert.equal((await user(world, userId))!.token_version, 2);
    assert.equal((await user(world, userId))!.disabled_at, first);
    await allDead([late]);
    assert.deepEqual(
      (await events("admin.disable")).map((e) => e.actor),
      ["system", "system"],
    );
  });

  test("the last enabled admin: forbidden before anything is marked in flight; nothing revoked, no event", async () => {
    const adminId = await admin();
    const s = await signInNow(world, adminId);
    await rejectsWith(disableUser(world.core, adminId), "forbidden", { status: 403, message: LAST_ADMIN });
    assert.deepEqual(world.revocations, [], "the early check refuses without marking anything in flight");
    assert.equal((await user(world, adminId))!.disabled_at, null);
    assert.equal((await world.verify(s.accessToken)).userId, adminId);
    assert.deepEqual(await events("admin.disable"), []);
    // With a second enabled admin, it can.
    await admin();
    await disableUser(world.core, adminId);
    assert.notEqual((await user(world, adminId))!.disabled_at, null);
  });

  test("the target became the last admin after the check (the other one disabled meanwhile): the write refuses, forbidden", async () => {
    const adminId = await admin();
    const other = await admin();
    const s = await signInNow(world, adminId);
    world.onBeforeRevoke(async () => {
      await world.store.db
        .updateTable("users")
        .set({ disabled_at: iso(now) })
        .where("id", "=", other)
        .execute();
    });
    await rejectsWith(disableUser(world.core, adminId), "forbidden", { message: LAST_ADMIN });
    assert.equal((await user(world, adminId))!.disabled_at, null);
    assert.equal((await user(world, adminId))!.token_version, 0);
    assert.equal((await world.verify(s.accessToken)).userId, adminId, "nothing was revoked");
    assert.deepEqual(await events("admin.disable"), []);
  });

  test("the user deleted after the check: not_found, no event", async () => {
    const userId = await world.addUser();
    world.onBeforeRevoke(async () => {
      await world.store.db.deleteFrom("users").where("id", "=", userId).execute();
    });
    await rejectsWith(disableUser(world.core, userId), "not_found", { status: 404, message: NO_USER });
    assert.deepEqual(await events("admin.disable"), []);
  });

  test("an unknown id is not_found and marks nothing; what cannot be a user id is not_found before the store is asked", async () => {
    await rejectsWith(disableUser(world.core, "no-such-user"), "not_found", { message: NO_USER });
    assert.deepEqual(world.revocations, []);
    const down = await downCore();
    await rejectsWith(disableUser(down, "u".repeat(64)), "service_unavailable", { status: 503 });
    for (const id of ["", "u".repeat(65), "a\u0000b", null, 42]) {
      await rejectsWith(disableUser(down, id as string), "not_found", { message: NO_USER });
    }
  });

  test("a store that does not answer the last-admin check: 503, nothing marked", async () => {
    const userId = await world.addUser();
    // requireUser reads the row; the next query (the last-admin check) fails.
    let queries = 0;
    const db: Kysely<Database> = world.store.db.withPlugin({
      transformQuery: (args) => {
        if (++queries === 2) throw new Error("the store failed");
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    await rejectsWith(disableUser({ ...world.core, db }, userId), "service_unavailable", { status: 503 });
    assert.deepEqual(world.revocations, []);
    assert.equal((await user(world, userId))!.disabled_at, null);
  });
});

describe("enableUser", () => {
  test("enables: sign-in state back, nothing revoked comes back; admin.enable with the actor; the node's user row is forgotten", async () => {
    const userId = await world.addUser();
    const before = await signInNow(world, userId);
    await disableUser(world.core, userId);
    // A reader at the disabled version fills this node's user-row cache.
    const at = await signInNow(world, userId);
    assert.equal((await getUser(world.core, at.principal)).disabled, true);
    now += 1000;
    await enableUser(world.core, userId, { actor: "an-admin-id" });
    const row = (await user(world, userId))!;
    assert.equal(row.disabled_at, null);
    assert.equal(row.updated_at, iso(now));
    assert.equal(row.token_version, 1, "not a revocation, not a restoration");
    assert.equal((await getUser(world.core, at.principal)).disabled, false, "the announcement made the node read the row again");
    await rejectsWith(world.verify(before.accessToken), "token_revoked");
    await enableUser(world.core, userId);
    assert.deepEqual(
      (await events("admin.enable")).map((e) => e.actor),
      ["an-admin-id", "system"],
    );
  });

  test("unknown: not_found, no event; what cannot be a user id is not_found before the store is asked; a store down is 503", async () => {
    await rejectsWith(enableUser(world.core, "no-such-user"), "not_found", { message: NO_USER });
    assert.deepEqual(await events("admin.enable"), []);
    const down = await downCore();
    await rejectsWith(enableUser(down, "u".repeat(64)), "service_unavailable", { status: 503 });
    for (const id of ["", "u".repeat(65), "a\u0000b", null, 42]) {
      await rejectsWith(enableUser(down, id as string), "not_found", { message: NO_USER });
    }
  });
});

describe("logoutUser", () => {
  test("bumps the version and revokes every session: every token dies at once; admin.logout with the actor", async () => {
    const userId = await world.addUser();
    const signIns = [await signInNow(world, userId), await signInNow(world, userId)];
    const bystander = await signInNow(world, await world.addUser());
    world.revocations.length = 0;
    await logoutUser(world.core, userId, { actor: "cli" });
    assert.equal((await user(world, userId))!.token_version, 1);
    assert.equal((await user(world, userId))!.disabled_at, null, "logged out, not disabled");
    assert.deepEqual(await liveSessions(world, userId), []);
    await allDead(signIns);
    assert.equal((await world.verify(bystander.accessToken)).sessionId, bystander.principal.sessionId);
    assert.deepEqual(world.revocations[0], { phase: "before", change: { userId } });
    assert.equal(world.revocations[1]!.change.tokenVersion, 1);
    assert.deepEqual([...world.revocations[1]!.change.sessionIds!].sort(), signIns.map((s) => s.principal.sessionId).sort());
    // A sign-in at the new version works.
    const again = await signInNow(world, userId);
    assert.equal((await world.verify(again.accessToken)).tokenVersion, 1);
    await logoutUser(world.core, userId);
    assert.deepEqual(
      (await events("admin.logout")).map((e) => e.actor),
      ["cli", "system"],
    );
  });

  test("unknown: not_found, nothing marked; deleted after the check: not_found, no event", async () => {
    await rejectsWith(logoutUser(world.core, "no-such-user"), "not_found", { message: NO_USER });
    assert.deepEqual(world.revocations, []);
    const userId = await world.addUser();
    world.onBeforeRevoke(async () => {
      await world.store.db.deleteFrom("users").where("id", "=", userId).execute();
    });
    await rejectsWith(logoutUser(world.core, userId), "not_found", { message: NO_USER });
    assert.deepEqual(await events("admin.logout"), []);
    const down = await downCore();
    await rejectsWith(logoutUser(down, "u".repeat(64)), "service_unavailable", { status: 503 });
    await rejectsWith(logoutUser(down, "u".repeat(65)), "not_found");
  });
});

describe("setRole", () => {
  test("promotes and demotes: applied at once on this node (the user row announced), admin.promote / admin.demote with the actor", async () => {
    await admin();
    const userId = await world.addUser();
    const s = await signInNow(world, userId);
    assert.equal((await getUser(world.core, s.principal)).role, "user");
    now += 1000;
    await setRole(world.core, userId, "admin", { actor: "cli" });
    assert.equal((await user(world, userId))!.role, "admin");
    assert.equal((await user(world, userId))!.updated_at, iso(now));
    assert.equal((await getUser(world.core, s.principal)).role, "admin", "the cached row was forgotten");
    await requireAdmin(world.core, s.principal);
    await setRole(world.core, userId, "user");
    assert.equal((await getUser(world.core, s.principal)).role, "user");
    await rejectsWith(requireAdmin(world.core, s.principal), "forbidden");
    assert.deepEqual(await events("admin.promote"), [{ user: userId, actor: "cli", session: null, detail: {} }]);
    assert.deepEqual(await events("admin.demote"), [{ user: userId, actor: "system", session: null, detail: {} }]);
    // Not a revocation: the token lives on.
    assert.equal((await world.verify(s.accessToken)).userId, userId);
  });

  test("demoting the last enabled admin: forbidden, nothing changed, no event; a disabled admin does not count", async () => {
    const adminId = await admin();
    const sleeper = await admin();
    await world.store.db
      .updateTable("users")
      .set({ disabled_at: iso(now) })
      .where("id", "=", sleeper)
      .execute();
    await rejectsWith(setRole(world.core, adminId, "user"), "forbidden", { status: 403, message: LAST_ADMIN });
    assert.equal((await user(world, adminId))!.role, "admin");
    assert.deepEqual(await events("admin.demote"), []);
    // Promoting the last admin again is no demotion.
    await setRole(world.core, adminId, "admin");
    assert.equal((await events("admin.promote")).length, 1);
  });

  test("a role that is neither user nor admin: validation_failed before the store is asked", async () => {
    const down = await downCore();
    for (const role of ["root", "Admin", "", null, undefined]) {
      const error = await rejectsFields(setRole(down, "u".repeat(64), role as "user"), ["role"]);
      assert.equal(error.errors![0]!.message, "must be user or admin");
    }
    await rejectsWith(setRole(down, "u".repeat(64), "user"), "service_unavailable", { status: 503 });
  });

  test("unknown: not_found; deleted between the check and the write: not_found, not forbidden", async () => {
    await rejectsWith(setRole(world.core, "no-such-user", "admin"), "not_found", { message: NO_USER });
    await admin();
    const userId = await world.addUser();
    await rejectsWith(setRole(afterFirstQuery(removeUser(userId)), userId, "admin"), "not_found", { status: 404, message: NO_USER });
    assert.deepEqual(await events("admin.promote"), []);
  });
});

describe("revokeUserSession", () => {
  test("revokes one session of the user, named before and after the commit; the others live; session.revoked by the actor", async () => {
    const userId = await world.addUser();
    const kept = await signInNow(world, userId);
    const gone = await signInNow(world, userId);
    world.revocations.length = 0;
    await revokeUserSession(world.core, userId, gone.principal.sessionId, { actor: "an-admin-id" });
    await rejectsWith(world.verify(gone.accessToken), "token_revoked");
    await assert.rejects(refresh(world.core, gone.refreshToken));
    assert.equal((await world.verify(kept.accessToken)).sessionId, kept.principal.sessionId);
    assert.equal((await user(world, userId))!.token_version, 0, "no version bump");
    const named = { userId, sessionIds: [gone.principal.sessionId] };
    assert.deepEqual(world.revocations, [
      { phase: "before", change: named },
      { phase: "after", change: named },
    ]);
    assert.deepEqual(await events("session.revoked"), [
      { user: userId, actor: "an-admin-id", session: gone.principal.sessionId, detail: { reason: "admin" } },
    ]);
    await revokeUserSession(world.core, userId, kept.principal.sessionId);
    assert.equal((await events("session.revoked"))[1]!.actor, "system");
  });

  test("an unknown session, another user's and a revoked one: not_found, nothing marked, no event", async () => {
    const userId = await world.addUser();
    const mine = await signInNow(world, userId);
    const theirs = await signInNow(world, await world.addUser());
    await revokeUserSession(world.core, userId, mine.principal.sessionId);
    world.revocations.length = 0;
    for (const [owner, sessionId] of [
      [userId, "no-such-session"],
      [userId, theirs.principal.sessionId],
      [userId, mine.principal.sessionId],
      ["no-such-user", theirs.principal.sessionId],
    ] as const) {
      await rejectsWith(revokeUserSession(world.core, owner, sessionId), "not_found", { status: 404, message: NO_SESSION });
    }
    assert.deepEqual(world.revocations, []);
    assert.equal((await world.verify(theirs.accessToken)).userId, theirs.principal.userId);
    assert.equal((await events("session.revoked")).length, 1);
  });

  test("revoked by a racing request between the check and the write: not_found, no second event", async () => {
    const userId = await world.addUser();
    const s = await signInNow(world, userId);
    world.onBeforeRevoke(async () => {
      await world.store.db
        .updateTable("sessions")
        .set({ revoked_at: iso(now) })
        .where("id", "=", s.principal.sessionId)
        .execute();
    });
    await rejectsWith(revokeUserSession(world.core, userId, s.principal.sessionId), "not_found", { message: NO_SESSION });
    assert.deepEqual(world.revocations.at(-1), { phase: "after", change: { userId, sessionIds: [] } });
    assert.deepEqual(await events("session.revoked"), []);
  });

  test("ids that cannot be ids are not_found before the store is asked, either of the two", async () => {
    const down = await downCore();
    const ok = "s".repeat(64);
    await rejectsWith(revokeUserSession(down, ok, ok), "service_unavailable", { status: 503 });
    for (const bad of ["", "s".repeat(65), "a\u0000b", null, 42]) {
      await rejectsWith(revokeUserSession(down, ok, bad as string), "not_found", { message: NO_SESSION });
      await rejectsWith(revokeUserSession(down, bad as string, ok), "not_found", { message: NO_SESSION });
    }
    assert.deepEqual(world.revocations, []);
  });
});

describe("requireAdmin", () => {
  const principalOf = (userId: string): Principal => ({ userId, sessionId: "s", tokenVersion: 0 }) as Principal;

  test("an enabled admin passes; a user, a disabled admin and an unknown user are forbidden; read from the store every time", async () => {
    const adminId = await admin();
    assert.equal(await requireAdmin(world.core, principalOf(adminId)), undefined);
    const userId = await world.addUser();
    await rejectsWith(requireAdmin(world.core, principalOf(userId)), "forbidden", { status: 403, message: NOT_ADMIN });
    await rejectsWith(requireAdmin(world.core, principalOf("no-such-user")), "forbidden", { message: NOT_ADMIN });
    await world.store.db
      .updateTable("users")
      .set({ disabled_at: iso(now) })
      .where("id", "=", adminId)
      .execute();
    await rejectsWith(requireAdmin(world.core, principalOf(adminId)), "forbidden", { message: NOT_ADMIN });
    await rejectsWith(requireAdmin(await downCore(), principalOf(adminId)), "service_unavailable", { status: 503 });
  });
});

describe("deleteAccount by an administrator", () => {
  test("the account and everything of it go; every token refused; the change names version + 1 and every session; account.deleted", async () => {
    const userId = await world.addUser();
    await world.store.db.updateTable("users").set({ token_version: 4 }).where("id", "=", userId).execute();
    const signIns = [await signInNow(world, userId), await signInNow(world, userId)];
    world.revocations.length = 0;
    await deleteAccount(world.core, userId, { actor: "an-admin-id" });
    assert.equal(await user(world, userId), undefined);
    for (const s of signIns) {
      await assert.rejects(world.verify(s.accessToken));
      await assert.rejects(refresh(world.core, s.refreshToken));
    }
    assert.deepEqual(world.revocations[0], { phase: "before", change: { userId } });
    const after = world.revocations[1]!;
    assert.equal(after.change.tokenVersion, 5, "the deleted row's version plus one: every token at it or below is refused");
    assert.deepEqual([...after.change.sessionIds!].sort(), signIns.map((s) => s.principal.sessionId).sort());
    assert.deepEqual(await world.mailTemplates(), [], "no notice unless asked");
    assert.deepEqual(await events("account.deleted"), [{ user: userId, actor: "an-admin-id", session: null, detail: {} }]);
  });

  test("the actor defaults to system", async () => {
    const userId = await world.addUser();
    await deleteAccount(world.core, userId);
    assert.deepEqual(
      (await events("account.deleted")).map((e) => e.actor),
      ["system"],
    );
  });

  test("the last enabled admin: forbidden before anything is marked; made the last by a racing request: forbidden by the write", async () => {
    const adminId = await admin();
    await rejectsWith(deleteAccount(world.core, adminId), "forbidden", { status: 403, message: LAST_ADMIN });
    assert.deepEqual(world.revocations, []);
    const other = await admin();
    const s = await signInNow(world, adminId);
    world.onBeforeRevoke(async () => {
      await world.store.db.updateTable("users").set({ role: "user" }).where("id", "=", other).execute();
    });
    await rejectsWith(deleteAccount(world.core, adminId), "forbidden", { message: LAST_ADMIN });
    assert.notEqual(await user(world, adminId), undefined);
    assert.deepEqual(await liveSessions(world, adminId), [s.principal.sessionId], "rolled back: the session lives");
    assert.deepEqual(await events("account.deleted"), []);
  });

  test("unknown: not_found, nothing marked; deleted by a racing request: not_found, no event", async () => {
    await rejectsWith(deleteAccount(world.core, "no-such-user"), "not_found", { message: NO_USER });
    assert.deepEqual(world.revocations, []);
    const userId = await world.addUser();
    world.onBeforeRevoke(async () => {
      await world.store.db.deleteFrom("users").where("id", "=", userId).execute();
    });
    await rejectsWith(deleteAccount(world.core, userId), "not_found", { message: NO_USER });
    assert.deepEqual(await events("account.deleted"), []);
  });
});

// An admin's request passes `{ admin: principal }` (the admin endpoints do): the action checks that
// sign-in and role again in its own transaction, before it writes, so a demotion, disable or
// sign-out of that admin that returned while the request was under way stops the action.
describe("an admin's request (options.admin): the admin checked again inside the action's transaction", () => {
  interface Action {
    name: string;
    /** Makes what the action would change; returns a snapshot of it. */
    setup(): Promise<() => Promise<unknown>>;
    run(options: { admin: Principal }): Promise<unknown>;
    event: string;
  }
  let target: string;
  let targetSession: string;
  const email = "created-by-an-admin@example.test";
  const actions: Action[] = [
    {
      name: "disableUser",
      event: "admin.disable",
      setup: async () => async () => user(world, target),
      run: (o) => disableUser(world.core, target, o),
    },
    {
      name: "enableUser",
      event: "admin.enable",
      setup: async () => {
        await disableUser(world.core, target);
        return async () => (await user(world, target))!.disabled_at;
      },
      run: (o) => enableUser(world.core, target, o),
    },
    {
      name: "logoutUser",
      event: "admin.logout",
      setup: async () => async () => user(world, target),
      run: (o) => logoutUser(world.core, target, o),
    },
    {
      name: "revokeUserSession",
      event: "session.revoked",
      setup: async () => async () => liveSessions(world, target),
      run: (o) => revokeUserSession(world.core, target, targetSession, o),
    },
    {
      name: "deleteUser",
      event: "account.deleted",
      setup: async () => async () => user(world, target),
      run: (o) => deleteAccount(world.core, target, o),
    },
    {
      name: "setRole",
      event: "admin.promote",
      setup: async () => async () => user(world, target),
      run: (o) => setRole(world.core, target, "admin", o),
    },
    {
      name: "createUser",
      event: "admin.create",
      setup: async () => async () => world.store.db.selectFrom("users").select("id").where("email", "=", email).execute(),
      run: (o) => createUser(world.core, { email, password: "a long enough passphrase" }, o),
    },
  ];

  let acting: { principal: Principal; accessToken: string };
  let actingId: string;
  beforeEach(async () => {
    actingId = await admin();
    await admin(); // another enabled admin: the last-admin rule stays out of the way
    acting = await signInNow(world, actingId);
    target = await world.addUser();
    targetSession = (await signInNow(world, target)).principal.sessionId;
  });

  for (const action of actions) {
    describe(action.name, () => {
      test("still an admin with this sign-in: done, the admin named as the actor", async () => {
        const snapshot = await action.setup();
        const before = await snapshot();
        await action.run({ admin: acting.principal });
        assert.notDeepEqual(await snapshot(), before);
        const recorded = await events(action.event);
        assert.equal(recorded.at(-1)!.actor, actingId);
      });

      test("demoted while the request was under way: forbidden, nothing written, no event", async () => {
        const snapshot = await action.setup();
        const before = await snapshot();
        const seen = (await events(action.event)).length;
        await requireAdmin(world.core, acting.principal); // what the route checked first
        await setRole(world.core, actingId, "user");
        await rejectsWith(action.run({ admin: acting.principal }), "forbidden", { status: 403, message: NOT_ADMIN });
        assert.deepEqual(await snapshot(), before);
        assert.equal((await events(action.event)).length, seen);
      });

      test("signed out while the request was under way: token_revoked, nothing written, no event", async () => {
        const snapshot = await action.setup();
        await revokeUserSession(world.core, actingId, acting.principal.sessionId);
        const before = await snapshot();
        const seen = (await events(action.event)).length;
        await rejectsWith(action.run({ admin: acting.principal }), "token_revoked", { status: 401 });
        assert.deepEqual(await snapshot(), before);
        assert.equal((await events(action.event)).length, seen);
      });
    });
  }

  test("disabled between the action's own early checks and its transaction: the transaction refuses; nothing revoked", async () => {
    const targetSignIn = await signInNow(world, target);
    world.onBeforeRevoke(async () => {
      await disableUser(world.core, actingId);
    });
    await rejectsWith(disableUser(world.core, target, { admin: acting.principal }), "token_revoked", { status: 401 });
    assert.equal((await user(world, target))!.disabled_at, null);
    assert.equal((await world.verify(targetSignIn.accessToken)).userId, target);
  });

  test("an explicit actor wins over the admin's id in the event", async () => {
    await logoutUser(world.core, target, { admin: acting.principal, actor: "cli" });
    assert.equal((await events("admin.logout")).at(-1)!.actor, "cli");
  });
});
