// src/core/recovery/prune-unverified.ts over the real core and a real SQLite store
// (test/support/sqlite-core.ts): with `requireVerifiedEmail`, the accounts never verified and older
// than `unverifiedTtl` are deleted through the account deletion (event `account.deleted`, actor
// `system`), in batches of 200 until none is left; younger or verified ones stay; one gone meanwhile
// or the last admin is left as it is, while any other failure reaches the caller. Without the
// setting nothing goes.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { AuthError } from "../../../../src/core/errors.js";
import { pruneUnverifiedAccounts } from "../../../../src/core/recovery/prune-unverified.js";
import { iso, rejectsWith, signInNow, user } from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

const TTL = 7 * 86_400; // the unverifiedTtl of sqlite-core, in seconds
let world: SqliteCore;
let now: number;
beforeEach(async () => {
  now = Date.parse("2030-01-01T00:00:00.000Z");
  world = await sqliteCore({ clock: () => now });
  (world.core.config as { requireVerifiedEmail: boolean }).requireVerifiedEmail = true;
});
afterEach(() => world.close());

const exists = async (userId: string) => (await user(world, userId)) !== undefined;

describe("pruneUnverifiedAccounts", () => {
  test("only the unverified accounts older than unverifiedTtl go, as deletions by the system", async () => {
    const old = await world.addUser();
    const oldVerified = await world.addUser();
    await world.store.db
      .updateTable("users")
      .set({ email_verified_at: iso(now) })
      .where("id", "=", oldVerified)
      .execute();
    now += 1000;
    const young = await world.addUser();
    now += TTL * 1000 - 1000 + 1; // `old` is 1 ms past unverifiedTtl, `young` 999 ms short of it
    const { accessToken } = await signInNow(world, old);

    assert.equal(await pruneUnverifiedAccounts(world.core), 1);
    assert.equal(await exists(old), false);
    assert.equal(await exists(oldVerified), true);
    assert.equal(await exists(young), true);
    await assert.rejects(world.verify(accessToken));
    const [event, ...more] = await world.events("account.deleted");
    assert.deepEqual(more, []);
    assert.equal(event!.user_id, old);
    assert.equal(event!.actor, "system");
    assert.equal(event!.session_id, null);
  });

  test("an account exactly unverifiedTtl old stays", async () => {
    const id = await world.addUser();
    now += TTL * 1000;
    assert.equal(await pruneUnverifiedAccounts(world.core), 0);
    assert.equal(await exists(id), true);
  });

  test("without requireVerifiedEmail nothing goes", async () => {
    (world.core.config as { requireVerifiedEmail: boolean }).requireVerifiedEmail = false;
    const id = await world.addUser();
    now += 2 * TTL * 1000;
    assert.equal(await pruneUnverifiedAccounts(world.core), 0);
    assert.equal(await exists(id), true);
  });

  test("more than one batch: all 201 go", async () => {
    for (let i = 0; i < 201; i++) await world.addUser();
    now += 2 * TTL * 1000;
    assert.equal(await pruneUnverifiedAccounts(world.core), 201);
    const left = await world.store.db.selectFrom("users").select("id").execute();
    assert.deepEqual(left, []);
  });

  test("the last enabled admin is left as it is, and the others still go", async () => {
    const admin = await world.addUser();
    await world.store.db.updateTable("users").set({ role: "admin" }).where("id", "=", admin).execute();
    const other = await world.addUser();
    now += 2 * TTL * 1000;
    assert.equal(await pruneUnverifiedAccounts(world.core), 1);
    assert.equal(await exists(admin), true);
    assert.equal(await exists(other), false);
    assert.equal(await pruneUnverifiedAccounts(world.core), 0, "and the next prune ends too");
  });

  test("accounts deleted meanwhile are skipped, not counted, and the rest go", async () => {
    const gone = [await world.addUser(), await world.addUser()];
    const third = await world.addUser();
    now += 2 * TTL * 1000;
    // Inside the first deletion, after its checks: two of the accounts go by another hand (one in
    // the middle of its own deletion, `not_found` from the delete; the other before its check).
    world.onBeforeRevoke(async () => {
      await world.store.db.deleteFrom("users").where("id", "in", gone).execute();
    });
    assert.equal(await pruneUnverifiedAccounts(world.core), 1);
    assert.deepEqual(await world.store.db.selectFrom("users").select("id").execute(), []);
    assert.deepEqual(
      (await world.events("account.deleted")).map((e) => e.user_id),
      [third],
    );
  });

  test("any other failure reaches the caller", async () => {
    await world.addUser();
    now += 2 * TTL * 1000;
    world.onBeforeRevoke(async () => {
      throw new AuthError("service_unavailable", "A backing store did not answer; try again later.");
    });
    await rejectsWith(pruneUnverifiedAccounts(world.core), "service_unavailable");
  });
});
