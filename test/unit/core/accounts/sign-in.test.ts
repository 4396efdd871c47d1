// src/core/accounts/login.ts, register.ts and user.ts over the real core and a real SQLite store in
// memory (test/support/sqlite-core.ts), at unit speed: what login checks and in which order (the
// input, the throttle, the password, then a disabled account, an unverified address, a second
// factor), what each refusal answers and records, what it counts, the legacy hash rewritten; what
// register writes (the account, its first session or none, the verification mail) and refuses; and
// the user a caller sees. The HTTP suites (test/tokens.test.ts, throttle.test.ts, ...) drive the same.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { sql } from "kysely";
import { Type } from "typebox";
import { login } from "../../../../src/core/accounts/login.js";
import { register } from "../../../../src/core/accounts/register.js";
import { toUser } from "../../../../src/core/accounts/user.js";
import type { Core } from "../../../../src/core/context.js";
import { HashQueue, hashPassword } from "../../../../src/core/passwords/hashing.js";
import { refresh } from "../../../../src/core/sessions/refresh.js";
import { Throttle } from "../../../../src/core/throttle.js";
import { NOT_WELL_FORMED, profileSchemas } from "../../../../src/core/validation.js";
import { MemoryCounterStore } from "../../../../src/store/counters/counter-store.js";
import type { PublicUserRow } from "../../../../src/store/queries/user-row.js";
import {
  enableTotp,
  iso,
  mails,
  PASSWORD,
  rejectsFields,
  rejectsWith,
  setPassword,
  signInNow,
  user,
} from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

const WRONG = "not the account's passphrase";
const INCORRECT = "The email or password is incorrect.";
const TAKEN = "An account with this email already exists.";

let world: SqliteCore;
let now = Date.parse("2030-01-01T00:00:00.000Z");
beforeEach(async () => {
  world = await sqliteCore({ clock: () => now });
});
afterEach(() => world.close());

/** A user with a real password; its email. */
async function account(): Promise<{ userId: string; email: string }> {
  const userId = await world.addUser();
  await setPassword(world, userId);
  return { userId, email: (await user(world, userId))!.email };
}

function withLimits(limits: Partial<Core["config"]["rateLimit"]>): Core {
  const rateLimit = { ...world.core.config.rateLimit, ...limits };
  return { ...world.core, throttle: new Throttle(new MemoryCounterStore(() => now), rateLimit) };
}

const withConfig = (config: Partial<Core["config"]>): Core => ({ ...world.core, config: { ...world.core.config, ...config } });

describe("login", () => {
  test("the right password: a session whose tokens work, the user as a caller sees it, login.succeeded with the client", async () => {
    const { userId, email } = await account();
    const client = { ip: "203.0.113.5", userAgent: "a browser" };
    const signIn = await login(world.core, { email: `  ${email.toUpperCase()} `, password: PASSWORD }, client);
    assert.equal(signIn.user.id, userId);
    assert.equal(signIn.user.email, email);
    assert.equal((signIn.user as Record<string, unknown>).password_hash, undefined);
    const principal = await world.verify(signIn.accessToken);
    assert.equal(principal.userId, userId);
    const session = await world.session(principal.sessionId);
    assert.equal(session.user_agent, "a browser");
    assert.equal(session.ip, "203.0.113.5");
    assert.ok((await refresh(world.core, signIn.refreshToken)).accessToken);
    const [event, ...more] = await world.events("login.succeeded");
    assert.deepEqual(more, []);
    assert.equal(event!.user_id, userId);
    assert.equal(event!.session_id, principal.sessionId);
    assert.equal(event!.actor, "self");
    assert.equal(event!.ip, client.ip);
    assert.equal(event!.user_agent, client.userAgent);
    assert.deepEqual(JSON.parse(event!.detail), {}, "a password sign-in records no amr");
  });

  test("a wrong password and an unknown email: the same invalid_credentials; login.failed says which, never what was typed", async () => {
    const { userId, email } = await account();
    await rejectsWith(login(world.core, { email, password: WRONG }, {}), "invalid_credentials", { status: 401, message: INCORRECT });
    await rejectsWith(login(world.core, { email: "nobody@example.com", password: PASSWORD }, {}), "invalid_credentials", {
      message: INCORRECT,
    });
    const events = await world.events("login.failed");
    assert.deepEqual(
      events.map((e) => [e.user_id, e.actor, JSON.parse(e.detail)]),
      [
        [userId, "self", { reason: "wrong_password" }],
        [null, "self", { reason: "unknown_account" }],
      ],
    );
    assert.deepEqual(await world.events("login.succeeded"), []);
  });

  test("the input: both strings, the email well-formed and without controls: validation_failed before anything is counted", async () => {
    const { email } = await account();
    const core = withLimits({ accountFailures: 1 });
    await rejectsFields(login(core, {} as never, {}), ["email"]);
    await rejectsFields(login(core, { email } as never, {}), ["password"]);
    await rejectsFields(login(core, { email: 42, password: PASSWORD } as never, {}), ["email"]);
    const surrogate = await rejectsFields(login(core, { email: "\ud800@example.com", password: PASSWORD }, {}), ["email"]);
    assert.equal(surrogate.errors![0]!.message, NOT_WELL_FORMED);
    const control = await rejectsFields(login(core, { email: `${email}\u0007`, password: PASSWORD }, {}), ["email"]);
    assert.equal(control.errors![0]!.message, "must not contain control characters");
    // Nothing was counted: the one failure the account is allowed is still there.
    assert.equal((await login(core, { email, password: PASSWORD }, {})).user.email, email);
  });

  test("a disabled account: account_disabled only with the right password", async () => {
    const { userId, email } = await account();
    await world.store.db
      .updateTable("users")
      .set({ disabled_at: iso(now) })
      .where("id", "=", userId)
      .execute();
    await rejectsWith(login(world.core, { email, password: WRONG }, {}), "invalid_credentials");
    await rejectsWith(login(world.core, { email, password: PASSWORD }, {}), "account_disabled", {
      status: 403,
      message: "An administrator disabled this account.",
    });
    assert.deepEqual(await world.events("login.succeeded"), []);
    assert.equal((await world.store.db.selectFrom("sessions").selectAll().execute()).length, 0);
  });

  test("requireVerifiedEmail: an unverified address is email_unverified after the password; a verified one signs in; off, both do", async () => {
    const { userId, email } = await account();
    const strict = withConfig({ requireVerifiedEmail: true });
    await rejectsWith(login(strict, { email, password: WRONG }, {}), "invalid_credentials");
    await rejectsWith(login(strict, { email, password: PASSWORD }, {}), "email_unverified", {
      status: 403,
      message: "Confirm your email address first: open the link mailed to it.",
    });
    assert.equal((await login(world.core, { email, password: PASSWORD }, {})).user.emailVerified, false);
    await world.store.db
      .updateTable("users")
      .set({ email_verified_at: iso(now) })
      .where("id", "=", userId)
      .execute();
    assert.equal((await login(strict, { email, password: PASSWORD }, {})).user.emailVerified, true);
  });

  test("a second factor on: mfa_required and no session; the account's count is not reset by the password alone", async () => {
    const { userId, email } = await account();
    const s = await signInNow(world, userId);
    await enableTotp(world, s.principal);
    const sessionsBefore = (await world.store.db.selectFrom("sessions").selectAll().execute()).length;
    const core = withLimits({ accountFailures: 3 });
    for (let i = 0; i < 3; i++) await rejectsWith(login(core, { email, password: PASSWORD }, {}), "mfa_required");
    await rejectsWith(login(core, { email, password: PASSWORD }, {}), "rate_limited", { status: 429 });
    assert.equal((await world.store.db.selectFrom("sessions").selectAll().execute()).length, sessionsBefore);
  });

  test("the throttle: a right password starts the account afresh; the address keeps failures as failures and successes as successes", async () => {
    const { email } = await account();
    const accountCore = withLimits({ accountFailures: 3 });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) await rejectsWith(login(accountCore, { email, password: WRONG }, {}), "invalid_credentials");
      await login(accountCore, { email, password: PASSWORD }, {});
    }
    for (let i = 0; i < 3; i++) await rejectsWith(login(accountCore, { email, password: WRONG }, {}), "invalid_credentials");
    await rejectsWith(login(accountCore, { email, password: PASSWORD }, {}), "rate_limited");

    // Three logins allowed per address: wrong passwords are no logins, right ones no failures.
    const ip = "198.51.100.4";
    const addressCore = withLimits({ addressLogins: 3, addressFailures: 3 });
    for (let i = 0; i < 2; i++) await rejectsWith(login(addressCore, { email, password: WRONG }, { ip }), "invalid_credentials");
    for (let i = 0; i < 3; i++) await login(addressCore, { email, password: PASSWORD }, { ip });
    await rejectsWith(login(addressCore, { email, password: PASSWORD }, { ip }), "rate_limited", {
      message: "Too many logins from this address; try again later.",
    });
  });

  test("with a second factor on, a right password is no failure of the address", async () => {
    const { userId, email } = await account();
    await enableTotp(world, (await signInNow(world, userId)).principal);
    const ip = "198.51.100.5";
    const core = withLimits({ addressFailures: 2, accountFailures: 50 });
    for (let i = 0; i < 3; i++) await rejectsWith(login(core, { email, password: PASSWORD }, { ip }), "mfa_required");
  });

  test("a hash from before the NFKC rule is rewritten on a right sign-in; a current one is left as it is", async () => {
    const { userId, email } = await account();
    const current = (await user(world, userId))!.password_hash;
    await login(world.core, { email, password: PASSWORD }, {});
    assert.equal((await user(world, userId))!.password_hash, current);
    const legacy = await hashPassword(PASSWORD);
    await world.store.db.updateTable("users").set({ password_hash: legacy }).where("id", "=", userId).execute();
    await rejectsWith(login(world.core, { email, password: WRONG }, {}), "invalid_credentials");
    assert.equal((await user(world, userId))!.password_hash, legacy, "not on a wrong password");
    await login(world.core, { email, password: PASSWORD }, {});
    const rewritten = (await user(world, userId))!.password_hash;
    assert.ok(rewritten.startsWith("nfkc$argon2id$"), rewritten);
    await login(world.core, { email, password: PASSWORD }, {});
  });

  test("the hashing queue's place is given back: a queue of one place signs in twice in a row, and after a refusal", async () => {
    const { email } = await account();
    // One thread and no waiting place: exactly one place, whatever the machine's core count.
    const core = { ...world.core, hashQueue: new HashQueue(0, 1) };
    await login(core, { email, password: PASSWORD }, {});
    await rejectsWith(login(core, { email, password: WRONG }, {}), "invalid_credentials");
    await login(core, { email, password: PASSWORD }, {});
  });
});

describe("register", () => {
  const fields = { nickname: Type.Optional(Type.String({ maxLength: 10 })) };
  const custom = (): Core => ({ ...world.core, config: { ...world.core.config, userFields: fields }, schemas: profileSchemas(fields) });

  test("the account at version 0 with its custom fields, its first session, and the verification mail to the address", async () => {
    now += 1000;
    const signUp = await register(custom(), { email: " New@Example.COM", password: PASSWORD, username: "Newt", nickname: "nn" } as never, {
      ip: "203.0.113.8",
    });
    assert.equal(signUp.user.email, "new@example.com");
    assert.equal(signUp.user.username, "Newt");
    assert.equal(signUp.user.tokenVersion, 0);
    assert.equal(signUp.user.createdAt, iso(now));
    assert.equal((signUp.user as Record<string, unknown>).nickname, "nn");
    assert.equal(signUp.user.emailVerified, false);
    const row = (await user(world, signUp.user.id))!;
    assert.deepEqual(JSON.parse(row.profile), { nickname: "nn" });
    assert.ok(row.password_hash.startsWith("nfkc$argon2id$"));
    const principal = await world.verify(signUp.accessToken!);
    assert.equal(principal.userId, signUp.user.id);
    assert.equal(principal.tokenVersion, 0);
    assert.equal((await world.session(principal.sessionId)).ip, "203.0.113.8");
    assert.ok((await refresh(world.core, signUp.refreshToken!)).accessToken);
    const mail = await mails(world);
    assert.deepEqual(
      mail.map((m) => [m.template, m.to]),
      [["verify_email", "new@example.com"]],
    );
    const link = await world.store.db.selectFrom("tokenver_links").selectAll().where("user_id", "=", signUp.user.id).execute();
    assert.deepEqual(
      link.map((l) => l.purpose),
      ["verify"],
    );
  });

  test("requireVerifiedEmail: the user alone, no session; the mail still goes", async () => {
    const signUp = await register(withConfig({ requireVerifiedEmail: true }), { email: "v@example.com", password: PASSWORD }, {});
    assert.equal(signUp.accessToken, undefined);
    assert.equal(signUp.refreshToken, undefined);
    assert.deepEqual(Object.keys(signUp), ["user"]);
    assert.equal(signUp.user.email, "v@example.com");
    assert.deepEqual(await world.store.db.selectFrom("sessions").selectAll().execute(), []);
    assert.deepEqual(await world.mailTemplates(), ["verify_email"]);
  });

  test("every bad field named at once, custom fields by the schema; nothing counted, hashed or written", async () => {
    const core = { ...custom(), throttle: withLimits({ registrations: 1 }).throttle };
    const ip = "203.0.113.9";
    await rejectsFields(
      register(core, { email: "nope", password: "short", username: "", nickname: "far too long a nickname" } as never, { ip }),
      ["email", "password", "username", "nickname"],
    );
    const missing = await rejectsFields(register(core, { email: "a@example.com" } as never, { ip }), ["password"]);
    assert.equal(missing.errors![0]!.message, "must be a string");
    await rejectsFields(register(core, undefined as never, { ip }), ["email", "password"]);
    await rejectsFields(register(core, { email: "a@example.com", password: PASSWORD, nickname: 5 } as never, { ip }), ["nickname"]);
    assert.deepEqual(await world.store.db.selectFrom("users").selectAll().execute(), []);
    // The one registration the address is allowed is still there.
    await register(core, { email: "a@example.com", password: PASSWORD, username: null } as never, { ip });
  });

  test("per address, `registrations` in the window, then 429; no address, nothing to count by", async () => {
    const core = withLimits({ registrations: 2 });
    const ip = "203.0.113.10";
    await register(core, { email: "r1@example.com", password: PASSWORD }, { ip });
    await register(core, { email: "r2@example.com", password: PASSWORD }, { ip });
    await rejectsWith(register(core, { email: "r3@example.com", password: PASSWORD }, { ip }), "rate_limited", {
      status: 429,
      message: "Too many registrations from this address; try again later.",
    });
    await register(core, { email: "r4@example.com", password: PASSWORD }, {});
    const emails = await world.store.db.selectFrom("users").select("email").orderBy("email").execute();
    assert.deepEqual(
      emails.map((r) => r.email),
      ["r1@example.com", "r2@example.com", "r4@example.com"],
    );
  });

  test("a known address: email_taken and nothing written; a store that fails otherwise: 503", async () => {
    await register(world.core, { email: "ann@example.com", password: PASSWORD }, {});
    await rejectsWith(register(world.core, { email: "ANN@example.com ", password: PASSWORD }, {}), "email_taken", {
      status: 409,
      message: TAKEN,
    });
    assert.equal((await world.store.db.selectFrom("sessions").selectAll().execute()).length, 1);
    assert.equal((await mails(world)).length, 1);
    await sql`CREATE TRIGGER refuse_users BEFORE INSERT ON users BEGIN SELECT RAISE(ABORT, 'the store failed'); END`.execute(
      world.store.db,
    );
    await rejectsWith(register(world.core, { email: "new@example.com", password: PASSWORD }, {}), "service_unavailable", { status: 503 });
  });

  test("the hashing queue's place is given back: a queue of one place registers twice in a row, and after a refusal", async () => {
    // One thread and no waiting place: exactly one place, whatever the machine's core count.
    const limited = withLimits({ registrations: 2 });
    const core = { ...limited, hashQueue: new HashQueue(0, 1) };
    const ip = "203.0.113.11";
    await register(core, { email: "q1@example.com", password: PASSWORD }, { ip });
    await register(core, { email: "q2@example.com", password: PASSWORD }, { ip });
    await rejectsWith(register(core, { email: "q3@example.com", password: PASSWORD }, { ip }), "rate_limited");
    await register(core, { email: "q4@example.com", password: PASSWORD }, {});
  });
});

describe("toUser", () => {
  const row = (over: Partial<PublicUserRow> = {}): PublicUserRow => ({
    id: "id-1",
    email: "ann@example.com",
    username: null,
    token_version: 3,
    profile: "{}",
    created_at: "2030-01-01T00:00:00.000Z",
    role: "user",
    disabled_at: null,
    mfa_enabled_at: null,
    recovery_codes_left: 0,
    email_verified_at: null,
    ...over,
  });

  test("the built-in fields, each flag from its column; never the hash", () => {
    assert.deepEqual(toUser(row({ recovery_codes_left: "7" as unknown as number })), {
      id: "id-1",
      email: "ann@example.com",
      username: null,
      tokenVersion: 3,
      createdAt: "2030-01-01T00:00:00.000Z",
      role: "user",
      disabled: false,
      mfaEnabled: false,
      recoveryCodesLeft: 7,
      emailVerified: false,
    });
    const set = toUser(row({ disabled_at: "x", mfa_enabled_at: "x", email_verified_at: "x", role: "admin" }));
    assert.equal(set.disabled, true);
    assert.equal(set.mfaEnabled, true);
    assert.equal(set.emailVerified, true);
    assert.equal(set.role, "admin");
  });

  test("stored custom fields are kept; the built-in fields win over a stored field of the same name; a profile that is no object reads as none", () => {
    const user = toUser(row({ profile: JSON.stringify({ nickname: "nn", id: "forged", role: "admin", disabled: true }) })) as Record<
      string,
      unknown
    >;
    assert.equal(user.nickname, "nn");
    assert.equal(user.id, "id-1");
    assert.equal(user.role, "user");
    assert.equal(user.disabled, false);
    for (const profile of ["null", "[1,2]", "5", '"text"', "true"]) {
      const plain = toUser(row({ profile })) as Record<string, unknown>;
      assert.equal(plain.id, "id-1", profile);
      assert.deepEqual(Object.keys(plain).sort(), Object.keys(toUser(row())).sort(), profile);
    }
  });
});
