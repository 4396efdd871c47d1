// `auth.prune()` (src/core/auth.ts) on a manual clock: each kind of row goes at its own time, not
// before (sessions and refresh tokens at their expiry, links at theirs, second-factor challenges
// at theirs, sealed grace successors once the grace window ended, events and webhook dead letters
// after the retention, unverified accounts after unverifiedTtl), and the counts it returns.
import assert from "node:assert/strict";
import { test } from "node:test";
import { authWorld, DAY_MS, PASSWORD, T0 } from "./auth-world.js";

const iso = (ms: number) => new Date(ms).toISOString();

test("prune deletes each kind of row once it is past its time, and says how many went", async () => {
  const world = await authWorld({ config: { refreshGrace: 60, eventRetention: 90, requireVerifiedEmail: false } });
  const db = world.store.db;
  try {
    const { email, userId, refreshToken } = await world.register();
    await world.auth.login({ email, password: PASSWORD }); // an event (login.succeeded), a second session
    await world.auth.refresh(refreshToken);
    const used = await db.selectFrom("refresh_tokens").select("id").where("used_at", "is not", null).executeTakeFirstOrThrow();
    await db.updateTable("refresh_tokens").set({ successor_sealed: "sealed" }).where("id", "=", used.id).execute();
    await db
      .insertInto("tokenver_mfa_challenges")
      .values({
        id: "c1",
        token_hash: "h1",
        user_id: userId,
        token_version: 0,
        mode: "totp",
        used_at: null,
        expires_at: iso(T0 + 300_000),
        created_at: iso(T0),
      })
      .execute();
    await db
      .insertInto("tokenver_webhook_dead_letters")
      .values({
        id: "d1",
        event_id: "e1",
        url: "https://hooks.example/x",
        payload: "{}",
        attempts: 8,
        last_error: null,
        created_at: iso(T0),
        failed_at: iso(T0),
      })
      .execute();
    await world.auth.flushEvents();
    const count = async (table: "tokenver_mfa_challenges" | "tokenver_webhook_dead_letters" | "tokenver_events") =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as("n"))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const sealed = async () =>
      (await db.selectFrom("refresh_tokens").select("successor_sealed").where("id", "=", used.id).executeTakeFirstOrThrow())
        .successor_sealed;
    const events = await count("tokenver_events");
    assert.ok(events > 0);

    const nothing = { sessions: 0, refreshTokens: 0, events: 0, links: 0, unverifiedUsers: 0 };
    // Within the grace window (60 s) the seal stays; the challenge (300 s) too.
    world.time.ms = T0 + 30_000;
    assert.deepEqual(await world.auth.prune(), nothing);
    assert.equal(await sealed(), "sealed");
    assert.equal(await count("tokenver_mfa_challenges"), 1);
    // The window ended: the seal goes (an erased seal is not counted).
    world.time.ms = T0 + 90_000;
    assert.deepEqual(await world.auth.prune(), nothing);
    assert.equal(await sealed(), null);
    assert.equal(await count("tokenver_mfa_challenges"), 1);
    // The challenge expired, then the verification link (one day).
    world.time.ms = T0 + 301_000;
    assert.deepEqual(await world.auth.prune(), nothing);
    assert.equal(await count("tokenver_mfa_challenges"), 0);
    world.time.ms = T0 + DAY_MS + 1000;
    assert.deepEqual(await world.auth.prune(), { ...nothing, links: 1 });
    // The two sessions and their three refresh tokens at 30 days; the events and dead letters stay.
    world.time.ms = T0 + 31 * DAY_MS;
    assert.deepEqual(await world.auth.prune(), { ...nothing, sessions: 2, refreshTokens: 3 });
    world.time.ms = T0 + 89 * DAY_MS;
    assert.deepEqual(await world.auth.prune(), nothing);
    assert.equal(await count("tokenver_webhook_dead_letters"), 1);
    // Past the retention (90 days): events and dead letters.
    world.time.ms = T0 + 91 * DAY_MS;
    assert.deepEqual(await world.auth.prune(), { ...nothing, events });
    assert.equal(await count("tokenver_webhook_dead_letters"), 0);
  } finally {
    await world.close();
  }
});

test("prune deletes the accounts never verified within unverifiedTtl (requireVerifiedEmail)", async () => {
  const world = await authWorld({ config: { requireVerifiedEmail: true, unverifiedTtl: 7 * 86_400 } });
  try {
    await world.auth.signUp({ email: "never@example.test", password: PASSWORD });
    world.time.ms = T0 + 6 * DAY_MS;
    assert.equal((await world.auth.prune()).unverifiedUsers, 0);
    world.time.ms = T0 + 8 * DAY_MS;
    const pruned = await world.auth.prune();
    assert.equal(pruned.unverifiedUsers, 1);
    assert.equal(await world.auth.findUserByEmail("never@example.test"), null);
  } finally {
    await world.close();
  }
});
