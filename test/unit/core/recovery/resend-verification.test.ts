// src/core/recovery/resend-verification.ts (`POST /email/verify/resend`) over the real core and a
// real SQLite store (test/support/sqlite-core.ts): checked and counted, answered before the lookup
// (the background work is awaited with `settle`); only an enabled account whose address is not yet
// verified gets a fresh verify link, bound to its stored address and version, for verifyTtl, that
// supersedes the older one and verifies the address; anyone else gets nothing, and no event.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, test } from "node:test";
import { settle } from "../../../../src/core/recovery/background.js";
import { resendVerification } from "../../../../src/core/recovery/resend-verification.js";
import { verifyEmail } from "../../../../src/core/recovery/verify-email.js";
import { addAccount, iso, linkFor, links, mails, rejectsFields, rejectsWith, user } from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

let world: SqliteCore;
const NOW = Date.parse("2030-01-01T00:00:00.000Z");
beforeEach(async () => {
  world = await sqliteCore({ clock: () => NOW });
});
afterEach(async () => {
  await settle(world.core);
  await world.close();
});

const emailOf = async (userId: string) => (await user(world, userId))!.email;

describe("resendVerification", () => {
  test("an unverified account: a fresh verify link at its stored address, bound to its version, for verifyTtl; it verifies", async () => {
    const userId = await addAccount(world);
    await world.store.db.updateTable("users").set({ token_version: 2 }).where("id", "=", userId).execute();
    const email = await emailOf(userId);
    await linkFor(world, userId, "verify");
    const older = (await links(world, userId))[0]!.token_hash;

    assert.equal(await resendVerification(world.core, { email: ` ${email.toUpperCase()} ` }, { ip: "198.51.100.8" }), undefined);
    assert.equal((await links(world, userId))[0]!.token_hash, older, "answered before the new link");
    await settle(world.core);

    const [link, ...more] = await links(world, userId);
    assert.deepEqual(more, [], "the older link is superseded");
    assert.notEqual(link!.token_hash, older);
    assert.equal(link!.purpose, "verify");
    assert.equal(link!.email, email);
    assert.equal(link!.token_version, 2);
    assert.equal(link!.expires_at, iso(NOW + world.core.config.verifyTtl * 1000));
    const queued = await mails(world);
    assert.equal(queued.length, 1);
    assert.equal(queued[0]!.template, "verify_email");
    assert.equal(queued[0]!.to, email);
    const token = /#token=([A-Za-z0-9_-]{43})/.exec(queued[0]!.text)?.[1];
    assert.ok(token !== undefined, queued[0]!.text);
    await verifyEmail(world.core, { token }, {});
    assert.equal((await user(world, userId))!.email_verified_at, iso(NOW));
    assert.deepEqual(await world.events(), [], "a resend records no event");
  });

  test("a verified, a disabled or an unknown account gets nothing, and the same answer", async () => {
    const verified = await addAccount(world);
    await world.store.db
      .updateTable("users")
      .set({ email_verified_at: iso(NOW) })
      .where("id", "=", verified)
      .execute();
    const disabled = await addAccount(world);
    await world.store.db
      .updateTable("users")
      .set({ disabled_at: iso(NOW) })
      .where("id", "=", disabled)
      .execute();
    for (const email of [await emailOf(verified), await emailOf(disabled), "nobody@example.test"]) {
      assert.equal(await resendVerification(world.core, { email }, {}), undefined);
    }
    await settle(world.core);
    assert.deepEqual(await links(world, verified), []);
    assert.deepEqual(await links(world, disabled), []);
    assert.deepEqual(await mails(world), []);
    assert.deepEqual(world.warnings, []);
  });

  test("no email, or not a well-formed one: validation_failed", async () => {
    await rejectsFields(resendVerification(world.core, {} as never, {}), ["email"]);
    await rejectsFields(resendVerification(world.core, { email: "a\udc00@example.test" }, {}), ["email"]);
    await rejectsFields(resendVerification(world.core, { email: "a\u0000b@example.test" }, {}), ["email"]);
  });

  test("counted per email: 429 past the limit, and no mail for it", async () => {
    const userId = await addAccount(world);
    const email = await emailOf(userId);
    const { accountFailures } = world.core.config.rateLimit;
    for (let i = 0; i < accountFailures; i++) await resendVerification(world.core, { email }, { ip: `203.0.113.${i}` });
    await rejectsWith(resendVerification(world.core, { email: email.toUpperCase() }, { ip: "203.0.113.99" }), "rate_limited", {
      status: 429,
    });
    await settle(world.core);
    assert.equal((await mails(world)).length, accountFailures);
  });

  test("a store that fails in the background: a warning without the address, never an error", async () => {
    const userId = await addAccount(world);
    await sql`drop table tokenver_links`.execute(world.store.db);
    await resendVerification(world.core, { email: await emailOf(userId) }, {});
    await settle(world.core);
    assert.deepEqual(world.warnings, ["verification resend: a store did not answer; the mail was not queued"]);
    assert.deepEqual(await mails(world), []);
  });
});
