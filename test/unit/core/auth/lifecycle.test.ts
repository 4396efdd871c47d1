// The facade's lifecycle (src/core/auth.ts): the periodic prune (its period in seconds, none at 0,
// a timer that keeps no process alive, a failure warned about), health, and close: idempotent,
// every timer stopped, the queued events written before the store closes, every store closed.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { AuthError } from "../../../../src/core/errors.js";
import { openStore } from "../../../../src/store/database.js";
import { migrateToLatest } from "../../../../src/store/migrations/index.js";
import { authWorld, DAY_MS, eventually, PASSWORD } from "./auth-world.js";

const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

test("the periodic prune runs every pruneInterval seconds (not sooner) and deletes what expired", async () => {
  const world = await authWorld({ config: { pruneInterval: 1 } });
  try {
    const { userId } = await world.register();
    world.time.ms += 31 * DAY_MS;
    const started = Date.now();
    // A period of 1 ms (or none) would have pruned it at once.
    const sessions = () => world.store.db.selectFrom("sessions").select("id").where("user_id", "=", userId).execute();
    await sleep(400);
    // Unless the machine stalled past the period, nothing was pruned yet.
    if (Date.now() - started < 900) assert.equal((await sessions()).length, 1);
    await eventually(async () => (await sessions()).length === 0, "the expired session pruned");
  } finally {
    await world.close();
  }
});

test("pruneInterval 0: no periodic prune at all", async () => {
  const world = await authWorld({ config: { pruneInterval: 0 } });
  try {
    const { userId } = await world.register();
    world.time.ms += 31 * DAY_MS;
    await sleep(300);
    const rows = await world.store.db.selectFrom("sessions").select("id").where("user_id", "=", userId).execute();
    assert.equal(rows.length, 1);
  } finally {
    await world.close();
  }
});

test("the prune timer keeps no process alive", async () => {
  const without = await authWorld({ config: { pruneInterval: 0 } });
  const before = timeouts();
  const withTimer = await authWorld({ config: { pruneInterval: 3600 } });
  try {
    assert.equal(timeouts(), before);
  } finally {
    await Promise.all([without.close(), withTimer.close()]);
  }
});

test("a periodic prune that fails is a warning, and the timer goes on", async () => {
  const world = await authWorld({ config: { pruneInterval: 1 } });
  await world.store.close();
  try {
    await eventually(() => world.warnings.includes("periodic prune failed: a store did not answer; will retry"), "the prune's warning");
    await assert.rejects(world.auth.health(), (e: unknown) => e instanceof AuthError && e.code === "service_unavailable");
  } finally {
    await world.auth.close().catch(() => {});
  }
});

test("health resolves while the database answers", async () => {
  const world = await authWorld();
  try {
    await world.auth.health();
  } finally {
    await world.close();
  }
});

test("close stops the prune, the seal sweep, the key poll, the mail outbox and the webhook dispatcher: nothing runs (and fails) on the closed store", async () => {
  const world = await authWorld({
    keys: true,
    config: { pruneInterval: 1, refreshGrace: 1 },
    webhooks: { urls: ["https://hooks.example/events"], secrets: [`whsec_${Buffer.from("w".repeat(32)).toString("base64")}`] },
  });
  await world.register();
  await world.close();
  await sleep(2300);
  assert.deepEqual(world.warnings, []);
});

test("close is idempotent and closes the revocation state and the counters once", async () => {
  const world = await authWorld();
  await world.close();
  await world.close();
  assert.deepEqual(world.closed, { revocation: 1, counters: 1 });
  await assert.rejects(world.store.db.selectFrom("users").select("id").execute(), "the store is closed");
});

test("close writes the queued events and the mail work left running before the store closes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tokenver-auth-close-"));
  const url = `sqlite:${join(dir, "store.db")}`;
  try {
    const store = await openStore(url);
    await migrateToLatest(store.db);
    const world = await authWorld({ store });
    const { email } = await world.register();
    await world.auth.login({ email, password: PASSWORD });
    // The reset link is made and queued after the answer (recovery/background.ts).
    await world.auth.forgotPassword({ email });
    await world.auth.close();
    const reopened = await openStore(url);
    const rows = await reopened.db.selectFrom("tokenver_events").select("type").where("type", "=", "login.succeeded").execute();
    const queued = await reopened.db.selectFrom("mail_outbox").select("template").where("template", "=", "password_reset").execute();
    await reopened.close();
    assert.equal(rows.length, 1, "the sign-in's event was written");
    const delivered = world.mails.filter((m) => m.to === email && /reset/i.test(m.subject));
    assert.equal(queued.length + delivered.length, 1, "the reset mail was queued (or already delivered)");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
