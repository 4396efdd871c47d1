// The refresh grace (src/core/browser/grace.ts) over the real core and a real SQLite store in memory
// (test/support/sqlite-core.ts) with a manual clock: the window to the millisecond, what the grace
// answer carries, and each condition re-checked inside its transaction (an account disabled, a
// version moved, a seal that does not open) called directly, as a request that read the token just
// before such a change reaches it. test/browser/refresh-grace.test.ts drives the same over HTTP.
import assert from "node:assert/strict";
import { createDecipheriv, hkdfSync } from "node:crypto";
import { afterEach, beforeEach, describe, test } from "node:test";
import { isoAt } from "../../../../src/core/clock.js";
import type { Core } from "../../../../src/core/context.js";
import { refreshWithinGrace, sealSuccessor } from "../../../../src/core/browser/grace.js";
import { AuthError } from "../../../../src/core/errors.js";
import { refresh } from "../../../../src/core/sessions/refresh.js";
import { planSession } from "../../../../src/core/sessions/issue.js";
import { parseRefreshToken } from "../../../../src/core/tokens/refresh-token.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

const GRACE = 10;
let now = Date.parse("2030-01-01T00:00:00.000Z");
let world: SqliteCore;
let core: Core;
beforeEach(async () => {
  world = await sqliteCore({ clock: () => now });
  core = { ...world.core, config: { ...world.core.config, refreshGrace: GRACE } };
});
afterEach(() => world.close());

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8"));

async function rejectsWith(promise: Promise<unknown>, code: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AuthError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  });
}

/** A new session (with this amr) and its first refresh token, written as a sign-in writes them. */
async function session(amr: readonly string[] = ["pwd"]) {
  const userId = await world.addUser();
  const planned = planSession(core, userId, 0, now, {}, amr);
  await world.store.db.transaction().execute((trx) => planned.persist(trx));
  const { id, secret } = parseRefreshToken(planned.refreshToken)!;
  return {
    userId,
    sessionId: planned.sessionId,
    token: planned.refreshToken,
    parent: { id, secret, userId, sessionId: planned.sessionId },
  };
}

const tokenRow = (id: string) => world.store.db.selectFrom("refresh_tokens").selectAll().where("id", "=", id).executeTakeFirstOrThrow();

describe("refresh grace", () => {
  test("to the last millisecond of the window: the same successor, the session's amr, an event; one millisecond later reuse", async () => {
    const s = await session(["pwd", "otp", "mfa"]);
    const first = await refresh(core, s.token);
    now += GRACE * 1000;
    const again = await refresh(core, s.token, { ip: "192.0.2.1" });
    assert.equal(again.refreshToken, first.refreshToken);
    assert.deepEqual(claimsOf(again.accessToken).amr, ["pwd", "otp", "mfa"]);
    assert.equal(claimsOf(again.accessToken).sid, s.sessionId);
    const [event] = await world.events("refresh.grace");
    assert.equal(event!.user_id, s.userId);
    assert.equal(event!.session_id, s.sessionId);
    assert.equal(event!.actor, "self");
    now += 1;
    await rejectsWith(refresh(core, s.token), "refresh_reused");
    assert.notEqual((await world.session(s.sessionId)).revoked_at, null);
  });

  test("off (grace 0): a rotation seals nothing, and a token rotated while it was on gets no grace, even at the same instant", async () => {
    const off = { ...core, config: { ...core.config, refreshGrace: 0 } };
    const s = await session();
    assert.equal(sealSuccessor(off, s.parent, "x.y"), null);
    const first = await refresh(off, s.token);
    assert.equal((await tokenRow(s.parent.id)).successor_sealed, null);
    assert.ok(first.refreshToken.length > 0);

    const t = await session();
    await refresh(core, t.token);
    assert.notEqual((await tokenRow(t.parent.id)).successor_sealed, null, "sealed while the grace was on");
    assert.equal(await refreshWithinGrace(off, t.parent, {}), undefined);
  });

  test("re-checked under lock: an account disabled or a version moved since the token was read gets no grace", async () => {
    const s = await session();
    await refresh(core, s.token);
    assert.notEqual(await refreshWithinGrace(core, s.parent, {}), undefined, "the control: within the grace");

    await world.store.db
      .updateTable("users")
      .set({ disabled_at: isoAt(now) })
      .where("id", "=", s.userId)
      .execute();
    assert.equal(await refreshWithinGrace(core, s.parent, {}), undefined, "disabled");

    const t = await session();
    await refresh(core, t.token);
    await world.store.db.updateTable("users").set({ token_version: 1 }).where("id", "=", t.userId).execute();
    assert.equal(await refreshWithinGrace(core, t.parent, {}), undefined, "the user's version moved");
  });

  test("the seal: AES-256-GCM under HKDF-SHA-256 of the parent's secret (label `tokenver refresh grace v1`), the parent's id bound in", async () => {
    // What another node, or the next version, must be able to open: the derivation is fixed.
    const s = await session();
    const first = await refresh(core, s.token);
    const raw = Buffer.from((await tokenRow(s.parent.id)).successor_sealed!, "base64url");
    const key = Buffer.from(
      hkdfSync("sha256", Buffer.from(s.parent.secret, "base64url"), Buffer.alloc(0), Buffer.from("tokenver refresh grace v1"), 32),
    );
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(s.parent.id, "utf8"));
    decipher.setAuthTag(raw.subarray(12, 28));
    assert.equal(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8"), first.refreshToken);
  });

  test("a seal that does not open is no grace: reuse, never an error", async () => {
    const s = await session();
    await refresh(core, s.token);
    // Presented with another secret (the row's own is checked before, by refresh()): the key differs.
    const other = { ...s.parent, secret: parseRefreshToken((await session()).token)!.secret };
    assert.equal(await refreshWithinGrace(core, other, {}), undefined);
    // Damaged at rest: the same.
    const sealed = (await tokenRow(s.parent.id)).successor_sealed!;
    const damaged = `${sealed.slice(0, -2)}${sealed.endsWith("AA") ? "BB" : "AA"}`;
    await world.store.db.updateTable("refresh_tokens").set({ successor_sealed: damaged }).where("id", "=", s.parent.id).execute();
    await rejectsWith(refresh(core, s.token), "refresh_reused");
  });

  test("a successor id that is not the sealed token's is no grace (the sealed token must be the stored successor)", async () => {
    const s = await session();
    const first = await refresh(core, s.token);
    const sealed = (await tokenRow(s.parent.id)).successor_sealed;
    // Another live, unused token of the same session (the successor's own successor), put in its place.
    const second = await refresh(core, first.refreshToken);
    const decoy = parseRefreshToken(second.refreshToken)!.id;
    await world.store.db
      .updateTable("refresh_tokens")
      .set({ successor_id: decoy, successor_sealed: sealed })
      .where("id", "=", s.parent.id)
      .execute();
    assert.equal(await refreshWithinGrace(core, s.parent, {}), undefined);
  });
});
