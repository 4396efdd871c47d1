// src/core/revoke.ts: after a revocation with a user-wide intent that bumped no version (the second
// factor turned on or off), the Revoker announces the user's row as changed: nodes forgot it before
// the commit, but one may have read the old row again between that and the commit (its read is
// not voided by the first invalidation), so they must forget it once more (docs/scale-out.md,
// "User rows"). A bump or a session-only revocation needs no announcement.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Revoker } from "../../../src/core/revoke.js";
import { openStore, type Store } from "../../../src/store/database.js";
import { migrateToLatest } from "../../../src/store/migrations/index.js";
import type { RevocationChange, RevocationState } from "../../../src/store/revocation/state.js";

let store: Store;
const calls: string[] = [];
const state: RevocationState = {
  get: async () => undefined,
  beforeRevoke: async (change) => (calls.push(`before ${describe(change)}`), Infinity),
  afterRevoke: async (change) => void calls.push(`after ${describe(change)}`),
  userChanged: async (userId) => void calls.push(`changed ${userId}`),
  ping: async () => {},
  close: async () => {},
};
const describe = (c: RevocationChange) => `${c.userId} v=${c.tokenVersion ?? "-"} s=${c.sessionIds?.join(",") ?? "-"}`;

before(async () => {
  store = await openStore("sqlite::memory:");
  await migrateToLatest(store.db);
});
after(() => store.close());

const revoke = async (intent: RevocationChange, committed: RevocationChange) => {
  calls.length = 0;
  await new Revoker(store.db, state, Date.now).revoke(intent, async () => committed);
  return [...calls];
};

test("a user-wide intent that committed no bump: announced after the commit", async () => {
  assert.deepEqual(await revoke({ userId: "u" }, { userId: "u", sessionIds: ["s1"] }), [
    "before u v=- s=-",
    "after u v=- s=s1",
    "changed u",
  ]);
});

test("a bump, or a revocation of sessions only: not announced", async () => {
  assert.deepEqual(await revoke({ userId: "u" }, { userId: "u", tokenVersion: 2, sessionIds: ["s1"] }), [
    "before u v=- s=-",
    "after u v=2 s=s1",
  ]);
  assert.deepEqual(await revoke({ userId: "u", sessionIds: ["s1"] }, { userId: "u", sessionIds: ["s1"] }), [
    "before u v=- s=s1",
    "after u v=- s=s1",
  ]);
});

test("Revoker.userChanged reaches the state; a state that cannot tell the nodes does not fail the committed write", async () => {
  calls.length = 0;
  await new Revoker(store.db, state, Date.now).userChanged("u");
  assert.deepEqual(calls, ["changed u"]);
  // New recovery codes or a new session were committed: the caller must get them (the state warns).
  const failing: RevocationState = { ...state, userChanged: async () => Promise.reject(new Error("redis down")) };
  await new Revoker(store.db, failing, Date.now).userChanged("u");
  const without: RevocationState = { ...state, userChanged: undefined };
  await new Revoker(store.db, without, Date.now).userChanged("u");
});
