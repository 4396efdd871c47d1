import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { AuthError } from "../../src/core/errors.js";
import { createAuth, type Auth } from "../../src/create-auth.js";
import { createTestDatabase, redisTestPrefix, REDIS_URL, type TestDatabase } from "../support/databases.js";
import { linkToken, mailTo, VERIFY } from "../support/recovery-mail.js";
import { TEST_SECRET } from "../support/server.js";
import { startSmtp, type TestSmtp } from "../support/smtp.js";
import { totpAt } from "../support/totp.js";

// The node's user-row cache (LocalRevocationCache.readUser, docs/scale-out.md "User rows"):
// `getUser` (GET /profile) answers from memory, so every writer of the row must have every node
// forget it before the write returns. Two nodes over one PostgreSQL and one Redis: node B reads
// the row (cached), node A writes it, and B's very next read shows the write. Each case fails if
// its writer does not announce its commit (revoker.userChanged) or if the bump rule breaks.
// (The announcement a revocation makes after its commit, for a read on a node between its
// invalidation and its commit, is checked in test/unit/core/revoke-user-changed.test.ts.)
const BASE = "http://127.0.0.1:3997";

const PASSWORD = "a long and unguessable passphrase";

describe("user rows cached on a node over PostgreSQL + Redis: every writer's change shows on the other node at once", () => {
  let database: TestDatabase;
  let smtp: TestSmtp;
  let raw: Redis;
  let a: Auth;
  let b: Auth;
  let prefix: string;
  let n = 0;

  before(async () => {
    database = await createTestDatabase("postgres");
    smtp = await startSmtp();
    raw = new Redis(REDIS_URL!);
    prefix = redisTestPrefix();
    // Entries (and cached rows) live 5 s: each case writes and reads again well inside that, so a
    // write that did not reach B's memory would be answered stale, and fail the case.
    const base = {
      databaseUrl: database.url,
      redisPrefix: prefix,
      secret: TEST_SECRET,
      redisEntryTtl: 5,
      redisNodeLease: 1,
      smtpUrl: smtp.url,
      publicUrl: BASE,
    };
    a = await createAuth({ ...base, redisUrl: REDIS_URL! });
    b = await createAuth({ ...base, redisUrl: REDIS_URL! });
    // Redis is trusted one entry lifetime after start.
    await sleep(5_200);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    const keys = (await raw?.keys(`${prefix}*`)) ?? [];
    if (keys.length > 0) await raw.del(...keys);
    raw?.disconnect();
    await smtp?.close();
    await database?.drop();
  });

  async function signedUp() {
    const user = await a.register({ email: `rows${++n}-${prefix.replace(/[^a-z0-9]/gi, "")}@example.com`, password: PASSWORD });
    return { id: user.user.id, email: user.user.email, bearer: `Bearer ${user.accessToken}` };
  }

  /** B's answer twice: the second is from its memory when the cache works (checked by the first test). */
  async function readOnB(bearer: string) {
    const principal = await b.verify(bearer);
    await b.getUser(principal);
    return b.getUser(principal);
  }

  test("the cache answers from memory: a write behind tokenver's back is not seen (so the other cases test the announcements)", async () => {
    const user = await signedUp();
    assert.equal((await readOnB(user.bearer)).username, null);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query("UPDATE users SET username = 'behind-the-back' WHERE id = $1", [user.id]);
    } finally {
      await client.end();
    }
    assert.equal(
      (await readOnB(user.bearer)).username,
      null,
      "node B read the database: its row cache is off, and this file proves nothing",
    );
  });

  test("a profile update on A", async () => {
    const user = await signedUp();
    assert.equal((await readOnB(user.bearer)).username, null);
    await a.updateProfile(await a.verify(user.bearer), { username: "renamed" });
    assert.equal((await b.getUser(await b.verify(user.bearer))).username, "renamed");
  });

  test("a role change on A", async () => {
    const user = await signedUp();
    assert.equal((await readOnB(user.bearer)).role, "user");
    await a.setRole(user.id, "admin");
    assert.equal((await b.getUser(await b.verify(user.bearer))).role, "admin");
  });

  test("the second factor on, a sign-in with a recovery code, an email change with one, codes renewed, the factor off (each on A)", async () => {
    const user = await signedUp();
    assert.equal((await readOnB(user.bearer)).mfaEnabled, false);
    const { secret } = await a.startTotp(await a.verify(user.bearer));
    const codes = await a.confirmTotp(await a.verify(user.bearer), { code: totpAt(secret, Date.now()), password: PASSWORD });
    const on = await b.getUser(await b.verify(user.bearer));
    assert.equal(on.mfaEnabled, true);
    assert.equal(on.recoveryCodesLeft, codes.length);
    await readOnB(user.bearer);

    // A sign-in with a recovery code on A: the row has one code fewer.
    const mfaToken = await a.login({ email: user.email, password: PASSWORD }).then(
      () => assert.fail("the second factor is on: the sign-in must ask for it"),
      (error: unknown) => (error as AuthError).members!.mfa_token!,
    );
    await a.loginMfa({ mfaToken, code: codes[0]! });
    assert.equal((await b.getUser(await b.verify(user.bearer))).recoveryCodesLeft, codes.length - 1);
    await readOnB(user.bearer);

    // An email change asked for with a recovery code (the address changes later, by its link): one fewer again.
    await a.changeEmail(await a.verify(user.bearer), { newEmail: `moved-${user.email}`, password: PASSWORD, code: codes[1]! });
    assert.equal((await b.getUser(await b.verify(user.bearer))).recoveryCodesLeft, codes.length - 2);
    await readOnB(user.bearer);

    // Renewed (with a third code): a full set again.
    const renewed = await a.renewRecoveryCodes(await a.verify(user.bearer), { password: PASSWORD, code: codes[2]! });
    assert.equal((await b.getUser(await b.verify(user.bearer))).recoveryCodesLeft, renewed.length);
    await readOnB(user.bearer);

    await a.disableTotp(await a.verify(user.bearer), { password: PASSWORD, code: renewed[0]! });
    const off = await b.getUser(await b.verify(user.bearer));
    assert.equal(off.mfaEnabled, false);
    assert.equal(off.recoveryCodesLeft, 0);
  });

  test("an address confirmed through its link on A", async () => {
    const user = await signedUp();
    assert.equal((await readOnB(user.bearer)).emailVerified, false);
    const token = linkToken(await mailTo(smtp, user.email, VERIFY, 1, 20_000), BASE, "/account/verify");
    await a.verifyEmail({ token });
    assert.equal((await b.getUser(await b.verify(user.bearer))).emailVerified, true);
  });

  test("an account disabled and enabled on A: the new session's token reads the current row on B (the bump rule)", async () => {
    const user = await signedUp();
    assert.equal((await readOnB(user.bearer)).disabled, false);
    await a.disableUser(user.id);
    await assert.rejects(b.verify(user.bearer), { code: "token_revoked" });
    await a.enableUser(user.id);
    const again = await a.login({ email: user.email, password: PASSWORD });
    const row = await b.getUser(await b.verify(`Bearer ${again.accessToken}`));
    assert.equal(row.disabled, false);
    assert.equal(row.tokenVersion, 1);
  });

  test("a row read before a bump is never answered to a token of the new version", async () => {
    const user = await signedUp();
    await readOnB(user.bearer);
    // A bump behind the node's back would be missed by the session check too; tokenver's own bump
    // (logout everywhere) is announced, and the row read at version 0 must not serve version 1.
    await a.logout(await a.verify(user.bearer), { scope: "all" });
    const again = await a.login({ email: user.email, password: PASSWORD });
    assert.equal((await b.getUser(await b.verify(`Bearer ${again.accessToken}`))).tokenVersion, 1);
  });
});
