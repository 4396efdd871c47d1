// Unit tests for src/core/mfa/start-totp.ts over the real core and a real SQLite store in memory
// (./enrolled-core.ts): starting a TOTP enrolment. What matters: the secret is stored sealed (to
// this user) and pending, a second start replaces a pending secret, and an enabled factor is never
// replaced, neither when the user row says so nor when another request turned it on after that
// row was read (the store's conditional write decides).
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import QRCode from "qrcode";
import { isoAt } from "../../../../src/core/clock.js";
import { startTotp } from "../../../../src/core/mfa/start-totp.js";
import { openTotpSecret } from "../../../../src/core/mfa/totp.js";
import { rejectsWith } from "../../../support/account-core.js";
import { enrolled, mfaCore, type MfaCore } from "./enrolled-core.js";

let world: MfaCore;
beforeEach(async () => {
  world = await mfaCore();
});
afterEach(() => world.close());

const totpRow = (userId: string) => world.store.db.selectFrom("tokenver_totp").selectAll().where("user_id", "=", userId).executeTakeFirst();
const MFA_ENABLED = "A second factor is already on; turn it off first to enrol again.";

async function signedIn() {
  const userId = await world.addUser();
  const { principal } = await world.signIn(userId);
  const email = (await world.store.db.selectFrom("users").select("email").where("id", "=", userId).executeTakeFirstOrThrow()).email;
  return { userId, principal, email };
}

describe("startTotp", () => {
  test("answers the secret, its otpauth URL and an SVG QR code of that URL", async () => {
    const { principal, email } = await signedIn();
    const started = await startTotp(world.mfaCore, principal);
    assert.match(started.secret, /^[A-Z2-7]{32}$/);
    const url = new URL(started.otpauthUrl);
    assert.equal(url.protocol, "otpauth:");
    assert.equal(url.searchParams.get("secret"), started.secret);
    assert.equal(url.searchParams.get("issuer"), world.core.config.issuer);
    assert.ok(decodeURIComponent(url.pathname).endsWith(email), url.pathname);
    // The QR code is of that URL (same options), as SVG markup.
    assert.match(started.qrSvg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal(started.qrSvg, await QRCode.toString(started.otpauthUrl, { type: "svg", errorCorrectionLevel: "M", margin: 2 }));
  });

  test("stores the secret sealed to this user, pending, at the core's clock", async () => {
    const { userId, principal } = await signedIn();
    const { secret } = await startTotp(world.mfaCore, principal);
    const row = await totpRow(userId);
    assert.ok(row !== undefined);
    assert.notEqual(row.secret, secret);
    assert.ok(!row.secret.includes(secret), "the plaintext secret is not in the row");
    assert.equal(openTotpSecret(world.core, userId, row.secret), secret);
    assert.throws(() => openTotpSecret(world.core, "another-user", row.secret));
    assert.equal(row.enabled_at, null);
    assert.equal(row.last_step, null);
    assert.equal(row.created_at, isoAt(world.now()));
  });

  test("a second start replaces the pending secret (a new one each time)", async () => {
    const { userId, principal } = await signedIn();
    const first = await startTotp(world.mfaCore, principal);
    world.advance(60_000);
    const second = await startTotp(world.mfaCore, principal);
    assert.notEqual(second.secret, first.secret);
    const row = await totpRow(userId);
    assert.equal(openTotpSecret(world.core, userId, row!.secret), second.secret);
    assert.equal(row!.created_at, isoAt(world.now()));
  });

  test("409 mfa_enabled while the factor is on, and the enabled secret stays", async () => {
    const user = await enrolled(world);
    const before = await totpRow(user.userId);
    await rejectsWith(startTotp(world.mfaCore, user.principal), "mfa_enabled", { status: 409, message: MFA_ENABLED });
    assert.deepEqual(await totpRow(user.userId), before);
  });

  test("409 mfa_enabled when the user row says the factor is on, whatever the factor's own row holds", async () => {
    // confirmTotp and disableTotp write users.mfa_enabled_at and the tokenver_totp row together;
    // sign-in reads the user row, so the user row alone must refuse a new enrolment (defence in
    // depth should a writer ever set one without the other).
    const { userId, principal } = await signedIn();
    await world.store.db
      .updateTable("users")
      .set({ mfa_enabled_at: isoAt(world.now()) })
      .where("id", "=", userId)
      .execute();
    await rejectsWith(startTotp(world.mfaCore, principal), "mfa_enabled", { status: 409, message: MFA_ENABLED });
    assert.equal(await totpRow(userId), undefined);
  });

  test("409 mfa_enabled when the factor was turned on after the user row was read", async () => {
    // What the upsert meets when another request's confirmTotp commits between this request's
    // read of the user row (mfa_enabled_at still null) and its write: an enabled tokenver_totp row.
    const { userId, principal } = await signedIn();
    await startTotp(world.mfaCore, principal);
    const enabledAt = isoAt(world.now());
    await world.store.db.updateTable("tokenver_totp").set({ enabled_at: enabledAt }).where("user_id", "=", userId).execute();
    const before = await totpRow(userId);
    await rejectsWith(startTotp(world.mfaCore, principal), "mfa_enabled", { status: 409, message: MFA_ENABLED });
    assert.deepEqual(await totpRow(userId), before);
  });

  test("a token of an earlier version starts nothing", async () => {
    const { userId, principal } = await signedIn();
    await rejectsWith(startTotp(world.mfaCore, { ...principal, tokenVersion: principal.tokenVersion + 1 }), "token_revoked");
    assert.equal(await totpRow(userId), undefined);
  });
});
