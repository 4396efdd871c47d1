import assert from "node:assert/strict";
import { test } from "node:test";
import { assembleAuth } from "../src/core/auth.js";
import { resolveOptions } from "../src/settings/resolve.js";
import { openStore } from "../src/store/database.js";
import { migrateToLatest } from "../src/store/migrations/index.js";
import { MemoryCounterStore } from "../src/store/counters/counter-store.js";
import { DatabaseRevocationState } from "../src/store/revocation/database-state.js";
import { type RevocationState } from "../src/store/revocation/state.js";
import { TEST_SECRET } from "./support/server.js";

// A revocation state may set a deadline for the commit (Redis: before its in-flight markers
// expire). A revocation that would commit later is rolled back and answers 503.
test("a revocation past the deadline its state gave is rolled back: 503, nothing committed", async () => {
  const store = await openStore("sqlite::memory:");
  await migrateToLatest(store.db);
  const database = new DatabaseRevocationState(store.db, store.sqlite);
  let deadline = Infinity;
  const state: RevocationState = {
    get: (sessionId) => database.get(sessionId),
    beforeRevoke: async () => deadline,
    afterRevoke: async () => {},
    ping: () => database.ping(),
    close: async () => {},
  };
  const resolved = resolveOptions({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET });
  // The resolved options, with the allowed origins as createAuth() derives them.
  const config = { ...resolved, allowedOrigins: [new URL(resolved.publicUrl).origin] };
  const auth = assembleAuth({ store, revocation: state, counters: new MemoryCounterStore(Date.now), config, secret: TEST_SECRET });
  try {
    const user = await auth.register({ email: "late@example.com", password: "a long and unguessable passphrase" });
    const principal = await auth.verify(`Bearer ${user.accessToken}`);
    deadline = performance.now() - 1;
    await assert.rejects(auth.logout(principal), { code: "service_unavailable" });
    await assert.rejects(auth.logout(principal, { scope: "session" }), { code: "service_unavailable" });
    assert.equal((await auth.verify(`Bearer ${user.accessToken}`)).tokenVersion, 0, "nothing was committed");
    deadline = Infinity;
    await auth.logout(principal);
    await assert.rejects(auth.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" });
  } finally {
    await auth.close();
  }
});
