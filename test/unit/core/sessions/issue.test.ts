// src/core/sessions/issue.ts, planSession: the session row and its first refresh token as a login
// writes them, over the real core and a real SQLite store (test/support/sqlite-core.ts). What the
// row keeps of the client (listed by GET /sessions, shown in the account page) is bounded: the
// User-Agent trimmed and cut to 512 characters (empty is null), the address cut to 64.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { planSession } from "../../../../src/core/sessions/issue.js";
import type { RequestContext } from "../../../../src/core/types.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

let world: SqliteCore;
beforeEach(async () => {
  world = await sqliteCore();
});
afterEach(() => world.close());

/** The session row planSession writes for a login with this client. */
async function stored(context: RequestContext) {
  const userId = await world.addUser();
  const planned = planSession(world.core, userId, 3, Date.parse("2030-01-01T00:00:00.000Z"), context);
  await world.store.db.transaction().execute((trx) => planned.persist(trx));
  return { planned, row: await world.session(planned.sessionId) };
}

test("the User-Agent is stored trimmed and cut to 512 characters", async () => {
  assert.equal((await stored({ userAgent: "  Mozilla/5.0 (X11)\t " })).row.user_agent, "Mozilla/5.0 (X11)");
  const long = `Mozilla/5.0 ${"x".repeat(600)}`;
  assert.equal((await stored({ userAgent: long })).row.user_agent, long.slice(0, 512));
  // Trimmed first, then cut: the 512 characters are all meaningful ones.
  assert.equal((await stored({ userAgent: `   ${long}` })).row.user_agent, long.slice(0, 512));
});

test("an empty, blank or missing User-Agent is null (it says nothing)", async () => {
  for (const userAgent of ["", "   ", "\t\n", undefined, 42 as unknown as string]) {
    assert.equal((await stored({ userAgent })).row.user_agent, null, JSON.stringify(userAgent));
  }
});

test("the address is stored cut to 64 characters; a missing one is null", async () => {
  assert.equal((await stored({ ip: "2001:db8::1" })).row.ip, "2001:db8::1");
  const long = "f".repeat(80);
  assert.equal((await stored({ ip: long })).row.ip, long.slice(0, 64));
  for (const ip of [undefined, 7 as unknown as string]) assert.equal((await stored({ ip })).row.ip, null, String(ip));
});

test("the session at the version, live for refreshTtl, with its first refresh token stored as a hash", async () => {
  const { planned, row } = await stored({});
  assert.equal(row.token_version, 3);
  assert.equal(row.revoked_at, null);
  assert.equal(row.created_at, "2030-01-01T00:00:00.000Z");
  assert.equal(Date.parse(row.expires_at) - Date.parse(row.created_at), world.core.config.refreshTtl * 1000);
  assert.equal(row.amr, "pwd");
  const tokens = await world.store.db.selectFrom("refresh_tokens").selectAll().where("session_id", "=", planned.sessionId).execute();
  assert.equal(tokens.length, 1);
  assert.ok(!JSON.stringify(tokens).includes(planned.refreshToken), "the token itself is not stored");
});
