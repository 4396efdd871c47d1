// The server-side reads and the creation of src/core/users/ (findUserById, findUserByEmail,
// listUsers, getUserDetail, createUser) over the real core and a real SQLite store in memory
// (test/support/sqlite-core.ts), at unit speed: lookups by normalised email, input that cannot be
// an id or an email answered without asking the store, the listing's pages and cursors (newest
// first, ties by id, neither repeating nor skipping), its bounds, the admin view of the sessions,
// and createUser's rules (registration's checks, the role, the vouched address, email_taken, a
// failing store 503, the hashing queue's place given back).
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { sql } from "kysely";
import type { Core } from "../../../../src/core/context.js";
import { verifyWithForms } from "../../../../src/core/passwords/form.js";
import { HashQueue } from "../../../../src/core/passwords/hashing.js";
import { createUser } from "../../../../src/core/users/create-user.js";
import { findUserByEmail, findUserById } from "../../../../src/core/users/find-user.js";
import { listUsers, type UserPage } from "../../../../src/core/users/list-users.js";
import { getUserDetail } from "../../../../src/core/users/user-detail.js";
import { HOLDS_NUL, NOT_WELL_FORMED } from "../../../../src/core/validation.js";
import { openStore } from "../../../../src/store/database.js";
import { insertUser } from "../../../../src/store/queries/users.js";
import { iso, rejectsFields, rejectsWith, signInNow, user } from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

const PASSWORD = "a long and unguessable passphrase";
const NO_USER = "No such user.";
const TAKEN = "An account with this email already exists.";

let world: SqliteCore;
let now = Date.parse("2030-01-01T00:00:00.000Z");
beforeEach(async () => {
  world = await sqliteCore({ clock: () => now });
});
afterEach(() => world.close());

async function downCore(): Promise<Core> {
  const closed = await openStore("sqlite::memory:");
  await closed.close();
  return { ...world.core, db: closed.db };
}

/** A user with this email and username, created at `at`. */
async function addUser(email: string, options: { username?: string | null; at?: number; id?: string } = {}): Promise<string> {
  const id = options.id ?? crypto.randomUUID();
  await insertUser(world.store.db, {
    id,
    email,
    username: options.username ?? null,
    password_hash: "$argon2id$not-a-real-hash",
    profile: "{}",
    now: iso(options.at ?? now),
  });
  return id;
}

describe("findUserById and findUserByEmail", () => {
  test("find the user by id, and by email as login normalises it (NFKC, trimmed, lower-cased, the domain in ASCII); never the hash", async () => {
    const id = await addUser("ann@example.com", { username: "Ann" });
    const idn = await addUser("bo@xn--bcher-kva.example");
    const byId = (await findUserById(world.core, id)) as Record<string, unknown>;
    assert.equal(byId.id, id);
    assert.equal(byId.email, "ann@example.com");
    assert.equal(byId.username, "Ann");
    assert.equal(byId.role, "user");
    assert.equal(byId.password_hash, undefined);
    assert.equal(byId.passwordHash, undefined);
    for (const spelling of ["ann@example.com", "  Ann@Example.COM ", "ＡＮＮ@example.com"]) {
      assert.equal((await findUserByEmail(world.core, spelling))?.id, id, spelling);
    }
    assert.equal((await findUserByEmail(world.core, "Bo@Bücher.example"))?.id, idn);
    const byEmail = (await findUserByEmail(world.core, "ann@example.com")) as Record<string, unknown>;
    assert.equal(byEmail.password_hash, undefined);
    assert.equal(await findUserById(world.core, "no-such-user"), null);
    assert.equal(await findUserByEmail(world.core, "nobody@example.com"), null);
  });

  test("what cannot be an id or an email finds no one without asking the store; anything else asks it, and a store down is 503", async () => {
    const down = await downCore();
    for (const id of ["", "u".repeat(65), "a\u0000b", null, 42]) assert.equal(await findUserById(down, id as string), null, String(id));
    for (const email of [42, null, undefined, "\ud800@example.com", "ann\u0007@example.com", "ann@example.com\u0000"]) {
      assert.equal(await findUserByEmail(down, email as string), null, JSON.stringify(email));
    }
    await rejectsWith(findUserById(down, "u".repeat(64)), "service_unavailable", { status: 503 });
    await rejectsWith(findUserByEmail(down, "ann@example.com"), "service_unavailable", { status: 503 });
  });
});

describe("listUsers", () => {
  const ids = (page: UserPage) => page.users.map((u) => u.id);

  test("newest first, ties by id descending; pages of `limit` that neither repeat nor skip; the last page has no cursor", async () => {
    const made: string[] = [];
    for (let i = 0; i < 4; i++) made.push(await addUser(`old${i}@example.com`, { at: now - 10_000 + i }));
    // Three users of one instant: ordered by id.
    for (const id of ["c0000000", "a0000000", "b0000000"]) made.push(await addUser(`${id}@example.com`, { at: now, id }));
    const expected = [...made.slice(4).sort().reverse(), ...made.slice(0, 4).reverse()];

    for (const limit of [1, 2, 3, 7]) {
      const seen: string[] = [];
      let page = await listUsers(world.core, { limit });
      for (let pages = 1; ; pages++) {
        assert.equal(page.users.length, Math.min(limit, expected.length - seen.length), `limit ${limit}, page ${pages}`);
        seen.push(...ids(page));
        if (page.nextCursor === null) break;
        page = await listUsers(world.core, { limit, cursor: page.nextCursor });
      }
      assert.deepEqual(seen, expected, `limit ${limit}`);
    }
    // A page exactly as long as what is left has no cursor; one longer than everything neither.
    assert.equal((await listUsers(world.core, { limit: 7 })).nextCursor, null);
    assert.equal((await listUsers(world.core, { limit: 100 })).nextCursor, null);
    const six = await listUsers(world.core, { limit: 6 });
    assert.deepEqual(ids(six), expected.slice(0, 6));
    assert.deepEqual(ids(await listUsers(world.core, { limit: 6, cursor: six.nextCursor })), expected.slice(6));
    // A null cursor is the first page.
    assert.deepEqual(ids(await listUsers(world.core, { limit: 2, cursor: null })), expected.slice(0, 2));
  });

  test("the default page is 50, and no options at all is the first page", async () => {
    for (let i = 0; i < 51; i++) await addUser(`u${i}@example.com`, { at: now + i });
    const first = await listUsers(world.core);
    assert.equal(first.users.length, 50);
    assert.equal(first.users[0]!.email, "u50@example.com");
    assert.notEqual(first.nextCursor, null);
    const rest = await listUsers(world.core, { cursor: first.nextCursor });
    assert.deepEqual(
      rest.users.map((u) => u.email),
      ["u0@example.com"],
    );
    assert.equal(rest.nextCursor, null);
  });

  test("query: email or username, literally, ignoring case; paged within the matches; empty is everyone", async () => {
    await addUser("plain@example.com");
    const percent = await addUser("100%@example.com", { at: now + 1 });
    const named = await addUser("x@example.com", { username: "Half_Off", at: now + 2 });
    await addUser("halfxoff@example.com", { at: now + 3 });
    assert.deepEqual(ids(await listUsers(world.core, { query: "100%" })), [percent]);
    assert.deepEqual(ids(await listUsers(world.core, { query: "half_OFF" })), [named]);
    assert.equal((await listUsers(world.core, { query: "%" })).users.length, 1);
    assert.equal((await listUsers(world.core, { query: "" })).users.length, 4);
    assert.equal((await listUsers(world.core, { query: undefined })).users.length, 4);
    const first = await listUsers(world.core, { query: "example", limit: 3 });
    assert.equal(first.users.length, 3);
    const second = await listUsers(world.core, { query: "example", limit: 3, cursor: first.nextCursor });
    assert.equal(second.users.length, 1);
    assert.equal(second.nextCursor, null);
  });

  test("limit 1 to 100, an integer; a query of at most 254 well-formed characters without NUL; a cursor of ours: else validation_failed", async () => {
    const down = await downCore();
    for (const limit of [0, -1, 101, 1.5, Number.NaN, "10", [10]]) {
      const error = await rejectsFields(listUsers(down, { limit: limit as number }), ["limit"]);
      assert.equal(error.errors![0]!.message, "must be an integer from 1 to 100", String(limit));
    }
    for (const query of ["q".repeat(255), "\ud800", 42, ["a"]]) {
      const error = await rejectsFields(listUsers(down, { query: query as string }), ["query"]);
      assert.equal(error.errors![0]!.message, "must be text of at most 254 characters");
    }
    const nul = await rejectsFields(listUsers(down, { query: "a\u0000b" }), ["query"]);
    assert.equal(nul.errors![0]!.message, HOLDS_NUL);
    for (const cursor of ["", "nonsense!", "WzFd", 42]) await rejectsFields(listUsers(down, { cursor: cursor as string }), ["cursor"]);
    // The bounds themselves are taken (they reach the store).
    for (const options of [{ limit: 1 }, { limit: 100 }, { query: "q".repeat(254) }]) {
      await rejectsWith(listUsers(down, options), "service_unavailable", { status: 503 });
    }
    assert.deepEqual(await listUsers(world.core, { query: "q".repeat(254), limit: 100 }), { users: [], nextCursor: null });
  });
});

describe("getUserDetail", () => {
  test("the user and their live sessions at the current version, newest first, with what an admin sees of each", async () => {
    const userId = await world.addUser();
    const old = await signInNow(world, userId);
    await world.store.db.updateTable("users").set({ token_version: 1 }).where("id", "=", userId).execute();
    now += 1000;
    const first = await signInNow(world, userId, { context: { ip: "203.0.113.7", userAgent: "a browser" } });
    now += 1000;
    const second = await signInNow(world, userId);
    const revoked = await signInNow(world, userId);
    await world.store.db
      .updateTable("sessions")
      .set({ revoked_at: iso(now) })
      .where("id", "=", revoked.principal.sessionId)
      .execute();
    const expired = await signInNow(world, userId);
    await world.store.db
      .updateTable("sessions")
      .set({ expires_at: iso(now) })
      .where("id", "=", expired.principal.sessionId)
      .execute();

    const detail = await getUserDetail(world.core, userId);
    assert.equal(detail.user.id, userId);
    assert.equal(detail.user.tokenVersion, 1);
    assert.equal((detail.user as Record<string, unknown>).password_hash, undefined);
    assert.deepEqual(
      detail.sessions.map((s) => s.id),
      [second.principal.sessionId, first.principal.sessionId],
      "not the old version's, the revoked or the expired one",
    );
    assert.notEqual(old.principal.sessionId, first.principal.sessionId);
    const row = await world.session(first.principal.sessionId);
    assert.deepEqual(detail.sessions[1], {
      id: first.principal.sessionId,
      createdAt: row.created_at,
      lastUsedAt: row.last_used_at,
      userAgent: "a browser",
      ip: "203.0.113.7",
    });
    assert.equal(detail.sessions[1]!.createdAt, iso(now - 1000));
  });

  test("unknown: not_found; what cannot be an id: not_found before the store is asked; a store down: 503", async () => {
    await rejectsWith(getUserDetail(world.core, "no-such-user"), "not_found", { status: 404, message: NO_USER });
    const down = await downCore();
    await rejectsWith(getUserDetail(down, "u".repeat(64)), "service_unavailable", { status: 503 });
    for (const id of ["", "u".repeat(65), null]) await rejectsWith(getUserDetail(down, id as string), "not_found", { message: NO_USER });
    // The user is found but the sessions' read fails.
    const userId = await world.addUser();
    await sql`ALTER TABLE sessions RENAME TO sessions_gone`.execute(world.store.db);
    await rejectsWith(getUserDetail(world.core, userId), "service_unavailable", { status: 503 });
    await sql`ALTER TABLE sessions_gone RENAME TO sessions`.execute(world.store.db);
  });
});

describe("createUser", () => {
  test("an account with registration's normalised email, a real hash of the password, the role, the address vouched for; admin.create", async () => {
    now += 1000;
    const created = await createUser(world.core, { email: "  Ops@Example.COM ", password: PASSWORD, role: "admin" }, { actor: "cli" });
    assert.equal(created.email, "ops@example.com");
    assert.equal(created.role, "admin");
    assert.equal(created.emailVerified, true);
    assert.equal(created.username, null);
    assert.equal(created.tokenVersion, 0);
    assert.equal(created.createdAt, iso(now));
    const row = (await user(world, created.id))!;
    assert.equal(row.role, "admin");
    assert.equal(row.email_verified_at, iso(now));
    assert.equal(row.profile, "{}");
    assert.equal((await verifyWithForms(row.password_hash, PASSWORD)).ok, true);
    assert.deepEqual(await world.mailTemplates(), [], "no verification mail");
    assert.deepEqual(await world.store.db.selectFrom("sessions").selectAll().execute(), [], "no session");
    const events = await world.events("admin.create");
    assert.equal(events.length, 1);
    assert.equal(events[0]!.user_id, created.id);
    assert.equal(events[0]!.actor, "cli");
    assert.deepEqual(JSON.parse(events[0]!.detail), { role: "admin" });
  });

  test("the role defaults to user, the actor to system; a username is kept", async () => {
    const created = await createUser(world.core, { email: "u@example.com", password: PASSWORD, username: "Someone" });
    assert.equal(created.role, "user");
    assert.equal(created.username, "Someone");
    assert.equal((await user(world, created.id))!.role, "user");
    const events = await world.events("admin.create");
    assert.equal(events[0]!.actor, "system");
    assert.deepEqual(JSON.parse(events[0]!.detail), { role: "user" });
    const plain = await createUser(world.core, { email: "v@example.com", password: PASSWORD, role: "user" });
    assert.equal(plain.role, "user");
  });

  test("registration's checks: every bad field named at once; nothing hashed or written", async () => {
    const down = await downCore();
    const all = await rejectsFields(createUser(down, { email: "not an email", password: "short", username: "", role: "root" as "user" }), [
      "email",
      "password",
      "username",
      "role",
    ]);
    assert.equal(all.errors!.at(-1)!.message, "must be user or admin");
    const missing = await rejectsFields(createUser(down, { email: "a@example.com" } as never), ["password"]);
    assert.equal(missing.errors![0]!.message, "must be a string");
    await rejectsFields(createUser(down, { email: "a@example.com", password: 42 } as never), ["password"]);
    await rejectsFields(createUser(down, undefined as never), ["email", "password"]);
    await rejectsFields(createUser(down, { email: "\ud800@example.com", password: PASSWORD }), ["email"]);
    assert.equal(
      (await rejectsFields(createUser(down, { email: "\ud800@example.com", password: PASSWORD }), ["email"])).errors![0]!.message,
      NOT_WELL_FORMED,
    );
    await rejectsFields(createUser(down, { email: "a@example.com", password: PASSWORD, role: "Admin" as "admin" }), ["role"]);
  });

  test("a known address, however spelt: email_taken; a store that fails otherwise: 503, never email_taken", async () => {
    await createUser(world.core, { email: "ann@example.com", password: PASSWORD });
    await rejectsWith(createUser(world.core, { email: " ANN@example.com", password: PASSWORD }), "email_taken", {
      status: 409,
      message: TAKEN,
    });
    await sql`CREATE TRIGGER refuse_users BEFORE INSERT ON users BEGIN SELECT RAISE(ABORT, 'the store failed'); END`.execute(
      world.store.db,
    );
    await rejectsWith(createUser(world.core, { email: "new@example.com", password: PASSWORD }), "service_unavailable", { status: 503 });
    assert.equal((await world.events("admin.create")).length, 1);
  });

  test("the hashing queue's place is given back: a queue of one place creates two accounts in a row", async () => {
    const core = { ...world.core, hashQueue: new HashQueue(1) };
    await createUser(core, { email: "one@example.com", password: PASSWORD });
    await createUser(core, { email: "two@example.com", password: PASSWORD });
    assert.equal((await listUsers(world.core)).users.length, 2);
  });
});
