// src/core/sessions/manage.ts over the real core and a real SQLite store (test/support/sqlite-core.ts),
// at unit speed: what `DELETE /sessions/{id}` (revokeSession) and the 5th wrong re-checked password
// (recheckPassword) change in the store, in the revocation protocol, in the events and in the mail,
// and what listSessions reads back. manage.test.ts covers the same file over a hand-made core (cursors,
// limits, the re-check's counts).
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { isoAt } from "../../../../src/core/clock.js";
import { AuthError } from "../../../../src/core/errors.js";
import { listSessions, recheckPassword, revokeSession } from "../../../../src/core/sessions/manage.js";
import { RECHECK_FAILURES } from "../../../../src/core/throttle.js";
import type { Principal } from "../../../../src/core/types.js";
import { openStore } from "../../../../src/store/database.js";
import * as sessions from "../../../../src/store/queries/sessions.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

let world: SqliteCore;
/** The core's clock: sessions signed in one after another get distinct instants. */
let now = Date.parse("2030-01-01T00:00:00.000Z");
beforeEach(async () => {
  world = await sqliteCore({ clock: () => now });
});
afterEach(() => world.close());

async function rejectsWith(promise: Promise<unknown>, code: string, message?: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AuthError, String(error));
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.equal(error.message, message);
    return true;
  });
}

/** The session's access token is refused as revoked by `verify()` (the node cache and the store agree). */
async function isDead(accessToken: string) {
  await rejectsWith(world.verify(accessToken), "token_revoked");
}

describe("revokeSession", () => {
  test("revokes one of the caller's sessions: its tokens die, the caller's own lives, and the protocol names that session", async () => {
    const userId = await world.addUser();
    const caller = await world.signIn(userId);
    const other = await world.signIn(userId);
    world.revocations.length = 0;

    const client = { ip: "203.0.113.9", userAgent: "the caller's browser" };
    assert.equal(await revokeSession(world.core, caller.principal, other.principal.sessionId, client), undefined);

    assert.notEqual((await world.session(other.principal.sessionId)).revoked_at, null);
    assert.equal((await world.session(caller.principal.sessionId)).revoked_at, null);
    await isDead(other.accessToken);
    assert.equal((await world.verify(caller.accessToken)).sessionId, caller.principal.sessionId);
    // Marked in flight before the commit, and the committed change after it (core/revoke.ts).
    const named = { userId, sessionIds: [other.principal.sessionId] };
    assert.deepEqual(world.revocations, [
      { phase: "before", change: named },
      { phase: "after", change: named },
    ]);
    const events = await world.events("session.revoked");
    assert.equal(events.length, 1);
    assert.equal(events[0]!.user_id, userId);
    assert.equal(events[0]!.session_id, other.principal.sessionId, "the revoked session, not the caller's");
    assert.equal(events[0]!.actor, "self");
    assert.equal(events[0]!.ip, client.ip);
    assert.equal(events[0]!.user_agent, client.userAgent);
    assert.deepEqual(JSON.parse(events[0]!.detail), { reason: "user", current: false });
  });

  test("the caller's own session: logged out, and the event says current", async () => {
    const userId = await world.addUser();
    const caller = await world.signIn(userId);
    await revokeSession(world.core, caller.principal, caller.principal.sessionId);
    await isDead(caller.accessToken);
    const [event, ...more] = await world.events("session.revoked");
    assert.deepEqual(more, []);
    assert.equal(event!.session_id, caller.principal.sessionId);
    assert.deepEqual(JSON.parse(event!.detail), { reason: "user", current: true });
  });

  test("an unknown id, another user's session and an already revoked one: not_found, nothing marked, no event", async () => {
    const userId = await world.addUser();
    const caller = await world.signIn(userId);
    const stranger = await world.signIn(await world.addUser());
    const gone = await world.signIn(userId);
    await revokeSession(world.core, caller.principal, gone.principal.sessionId);
    const eventsBefore = (await world.events()).length;
    world.revocations.length = 0;

    for (const id of ["0b9c1f0e-5c43-4a3d-9d57-6f1f1ad7a2e1", stranger.principal.sessionId, gone.principal.sessionId]) {
      await rejectsWith(revokeSession(world.core, caller.principal, id), "not_found", "No such session.");
    }
    // Refused by the liveness check, before any node forgot or marked anything.
    assert.deepEqual(world.revocations, []);
    assert.equal((await world.events()).length, eventsBefore);
    assert.equal((await world.session(stranger.principal.sessionId)).revoked_at, null);
    assert.equal((await world.verify(stranger.accessToken)).userId, stranger.principal.userId);
  });

  test("a session revoked by another request between the check and the write: not_found, no event", async () => {
    const userId = await world.addUser();
    const caller = await world.signIn(userId);
    const other = await world.signIn(userId);
    world.revocations.length = 0;
    // The other request's write lands after this one found the session live, before this one's write.
    world.onBeforeRevoke(async () => {
      assert.ok(await sessions.revokeSession(world.store.db, userId, other.principal.sessionId, isoAt(Date.now())));
    });

    await rejectsWith(revokeSession(world.core, caller.principal, other.principal.sessionId), "not_found", "No such session.");
    assert.deepEqual(await world.events("session.revoked"), [], "this request revoked nothing");
    // The change it committed names no session: it revoked none.
    assert.deepEqual(world.revocations.at(-1), { phase: "after", change: { userId, sessionIds: [] } });
  });

  test("the longest session id (64 characters) is looked up and revoked", async () => {
    const userId = await world.addUser();
    const caller = await world.signIn(userId);
    const id = "s".repeat(64);
    const now = isoAt(Date.now());
    await sessions.insertSession(world.store.db, {
      id,
      user_id: userId,
      token_version: 0,
      now,
      expires_at: isoAt(Date.now() + 60_000),
      user_agent: null,
      ip: null,
    });
    await revokeSession(world.core, caller.principal, id);
    assert.notEqual((await world.session(id)).revoked_at, null);
  });

  test("what cannot be a session id is not_found before the store is asked", async () => {
    // A core whose store does not answer: an id that reaches the store is a 503, not a 404.
    const closed = await openStore("sqlite::memory:");
    await closed.close();
    const core = { ...world.core, db: closed.db };
    const userId = await world.addUser();
    const { principal } = await world.signIn(userId);
    await rejectsWith(revokeSession(core, principal, "s".repeat(64)), "service_unavailable");
    for (const id of ["", "s".repeat(65), null, undefined, 42, ["s"]]) {
      await rejectsWith(revokeSession(core, principal, id as string), "not_found", "No such session.");
    }
    assert.deepEqual(world.revocations, []);
  });
});

describe("recheckPassword: the 5th wrong password", () => {
  const wrong = async () => false;

  async function guessOut(principal: Principal) {
    for (let i = 1; i < RECHECK_FAILURES; i++) assert.equal(await recheckPassword(world.core, principal, wrong), false, `failure ${i}`);
    await rejectsWith(
      recheckPassword(world.core, principal, wrong),
      "token_revoked",
      "The session was revoked after repeated wrong passwords.",
    );
  }

  test("revokes the session in the store, mails the user once, records one event; the user's other session lives", async () => {
    const userId = await world.addUser();
    const guessed = await world.signIn(userId);
    const other = await world.signIn(userId);
    world.revocations.length = 0;

    await guessOut(guessed.principal);

    assert.notEqual((await world.session(guessed.principal.sessionId)).revoked_at, null);
    await isDead(guessed.accessToken);
    assert.equal((await world.verify(other.accessToken)).sessionId, other.principal.sessionId);
    const named = { userId, sessionIds: [guessed.principal.sessionId] };
    assert.deepEqual(world.revocations, [
      { phase: "before", change: named },
      { phase: "after", change: named },
    ]);
    assert.deepEqual(await world.mailTemplates(), ["session_revoked_password_guessing"]);
    const events = await world.events("session.revoked");
    assert.equal(events.length, 1);
    assert.equal(events[0]!.session_id, guessed.principal.sessionId);
    assert.equal(events[0]!.actor, "system");
    assert.deepEqual(JSON.parse(events[0]!.detail), { reason: "password_guessing" });
  });

  test("a guess that comes after the session was revoked revokes nothing: token_revoked, no second mail, no second event", async () => {
    const userId = await world.addUser();
    const guessed = await world.signIn(userId);
    await guessOut(guessed.principal);
    world.revocations.length = 0;

    // The allowance is spent: revoked again without a check, which finds nothing live to revoke.
    await rejectsWith(
      recheckPassword(world.core, guessed.principal, async () => true),
      "token_revoked",
    );
    assert.deepEqual(world.revocations.at(-1), { phase: "after", change: { userId, sessionIds: [] } });
    assert.deepEqual(await world.mailTemplates(), ["session_revoked_password_guessing"], "one notice for one revocation");
    assert.equal((await world.events("session.revoked")).length, 1, "one event for one revocation");
  });

  test("a 5th failure that loses the race to another revocation of the session: no mail, no event of its own", async () => {
    const userId = await world.addUser();
    const guessed = await world.signIn(userId);
    for (let i = 1; i < RECHECK_FAILURES; i++) await recheckPassword(world.core, guessed.principal, wrong);
    // The session is revoked by another request (DELETE /sessions/{id} from another device) just before this write.
    world.onBeforeRevoke(async () => {
      assert.ok(await sessions.revokeSession(world.store.db, userId, guessed.principal.sessionId, isoAt(Date.now())));
    });
    await rejectsWith(recheckPassword(world.core, guessed.principal, wrong), "token_revoked");
    assert.deepEqual(await world.mailTemplates(), []);
    assert.deepEqual(await world.events("session.revoked"), []);
  });
});

describe("listSessions", () => {
  /** `count` sessions of one user, a second apart, each with its own User-Agent; oldest first. */
  async function signInMany(userId: string, count: number) {
    const list = [];
    for (let i = 0; i < count; i++) {
      now += 1000;
      list.push(await world.signIn(userId, { userAgent: `device ${i}` }));
    }
    return list;
  }

  test("the caller's live sessions, oldest first, as stored; `current` marks the caller's own only", async () => {
    const userId = await world.addUser();
    const [first, caller, third, revoked] = await signInMany(userId, 4);
    await signInMany(await world.addUser(), 1);
    await revokeSession(world.core, caller!.principal, revoked!.principal.sessionId);
    now += 5000;

    const page = await listSessions(world.core, caller!.principal);
    const expected = [first!, caller!, third!].map(({ principal }, i) => ({
      id: principal.sessionId,
      createdAt: new Date(Date.parse("2030-01-01T00:00:00.000Z") + (i + 1) * 1000).toISOString(),
      lastUsedAt: new Date(Date.parse("2030-01-01T00:00:00.000Z") + (i + 1) * 1000).toISOString(),
      userAgent: `device ${i}`,
      current: principal.sessionId === caller!.principal.sessionId,
    }));
    assert.deepEqual(page, { sessions: expected, nextCursor: null });
  });

  test("pages of `limit`: a cursor while more follow, null on the last page, even when it is full; none repeated or skipped", async () => {
    const userId = await world.addUser();
    const all = await signInMany(userId, 5);
    const ids = all.map((s) => s.principal.sessionId);
    const caller = all[0]!.principal;

    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const page = await listSessions(world.core, caller, { limit: 2, cursor });
      pages.push(page.sessions.map((s) => s.id));
      cursor = page.nextCursor;
    } while (cursor !== null && pages.length < 10);
    assert.deepEqual(pages, [ids.slice(0, 2), ids.slice(2, 4), ids.slice(4)]);

    // Exactly `limit` left: that page is the last one.
    const four = await listSessions(world.core, caller, { limit: 4 });
    assert.equal(four.sessions.length, 4);
    assert.notEqual(four.nextCursor, null);
    const rest = await listSessions(world.core, caller, { limit: 1, cursor: four.nextCursor });
    assert.deepEqual(rest, { sessions: [{ ...rest.sessions[0]!, id: ids[4]! }], nextCursor: null });
    const exact = await listSessions(world.core, caller, { limit: 5 });
    assert.equal(exact.sessions.length, 5);
    assert.equal(exact.nextCursor, null);
    // The default page holds 50; the bounds 1 and 100 are pages too.
    assert.equal((await listSessions(world.core, caller)).sessions.length, 5);
    assert.deepEqual(
      (await listSessions(world.core, caller, { limit: 1 })).sessions.map((s) => s.id),
      ids.slice(0, 1),
    );
    assert.equal((await listSessions(world.core, caller, { limit: 100 })).sessions.length, 5);
  });

  test("a session past its expiry is not listed (the store is asked at the core's clock)", async () => {
    const userId = await world.addUser();
    const [old] = await signInMany(userId, 1);
    now += world.core.config.refreshTtl * 1000 - 1000;
    const [fresh] = await signInMany(userId, 1);
    now += 1000;
    assert.deepEqual(
      (await listSessions(world.core, fresh!.principal)).sessions.map((s) => s.id),
      [fresh!.principal.sessionId],
      `${old!.principal.sessionId} expired`,
    );
  });
});
