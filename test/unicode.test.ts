// Text is Unicode done right (docs/api.md section 3; issue 19, findings 5 and 6), over real HTTP:
// an email's lookalikes (full-width letters, NFD, a Unicode domain) are the original account, never
// a second one; invisible and direction characters are refused; strings that are not well-formed
// UTF-16 are 400 validation_failed in every field, on the server, the Fastify plugin, the Express
// middleware and the library; passwords are checked in their NFKC form, and a hash made before
// that rule still signs in and is rewritten in the new form.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import express from "express";
import Fastify from "fastify";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import SQLite from "better-sqlite3";
import pg from "pg";
import { Type } from "typebox";
import { AuthError, createAuth, type Auth } from "../src/index.js";
import { hashPassword } from "../src/core/passwords/hashing.js";
import tokenverFastify from "../src/http/fastify/plugin.js";
import { problemHandler, tokenver as tokenverExpress } from "../src/http/express/guard.js";
import { createTestDatabase, dialects, type DialectName, type TestDatabase } from "./support/databases.js";
import { Api, startServer, TEST_SECRET, type ApiResponse, type TestServer } from "./support/server.js";
import { listenExpress, listenFastify } from "./library/helpers.js";

const PASSWORD = "a long and unguessable passphrase";
const NO_THROTTLE = { accountFailures: 1_000_000, addressFailures: 1_000_000, addressLogins: 1_000_000, registrations: 1_000_000 };
const userFields = { nickname: Type.Optional(Type.String({ maxLength: 40 })), tags: Type.Optional(Type.Array(Type.String())) };

let counter = 0;
/** A local part of its own for each address, so one database serves every test. */
function local(): string {
  return `u${process.pid}x${Date.now()}x${counter++}`;
}

/** ASCII `!` to `~` as their full-width forms (U+FF01 to U+FF5E): `@` and `.` included. */
function fullWidth(text: string): string {
  return text.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
}

function assertCode(response: ApiResponse, status: number, code: string, what: string): void {
  assert.equal(response.status, status, `${what}: ${response.status} ${response.text}`);
  assert.equal(response.body?.code, code, `${what}: code`);
}

/** 400 validation_failed whose errors name exactly `fields`. */
function assertInvalid(response: ApiResponse, fields: string[], what: string): void {
  assertCode(response, 400, "validation_failed", what);
  const named = (response.body.errors as Array<{ field: string }>).map((e) => e.field).sort();
  assert.deepEqual(named, [...fields].sort(), `${what}: ${response.text}`);
}

/** A database this test can also reach beside the server: a SQLite file, or a PostgreSQL database. */
async function sharedDatabase(dialect: DialectName): Promise<{ database: TestDatabase; db: Kysely<any>; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "tokenver-unicode-"));
  const database = await createTestDatabase(dialect, join(dir, "u.db"));
  const db =
    dialect === "sqlite"
      ? new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(join(dir, "u.db")) }) })
      : new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 1 }) }) });
  return {
    database,
    db,
    close: async () => {
      await db.destroy();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A user row as a tokenver from before the rules left it: an email only trimmed and lower-cased, a bare argon2 hash. */
async function insertLegacyUser(db: Kysely<any>, email: string, passwordHash: string): Promise<string> {
  const id = `legacy-${local()}`;
  const now = new Date().toISOString();
  await db
    .insertInto("users")
    .values({
      id,
      email: email.trim().toLowerCase(),
      username: null,
      password_hash: passwordHash,
      profile: "{}",
      created_at: now,
      updated_at: now,
    })
    .execute();
  return id;
}

async function storedHash(db: Kysely<any>, id: string): Promise<string> {
  return (await db.selectFrom("users").select("password_hash").where("id", "=", id).executeTakeFirstOrThrow()).password_hash;
}

for (const dialect of dialects()) {
  describe(`Unicode emails: one address, one account (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer({ dialect, rateLimit: NO_THROTTLE });
    });
    after(() => server.close());

    const register = (email: string) => server.api.post("/register", { email, password: PASSWORD });

    test("full-width letters (and a full-width @ and dot) are the ASCII address: 409 email_taken", async () => {
      const address = `${local()}@example.com`;
      assert.equal((await register(address)).status, 201);
      assertCode(await register(fullWidth(address)), 409, "email_taken", "all full-width");
      assertCode(await register(`${fullWidth(address.split("@")[0]!)}@example.com`), 409, "email_taken", "full-width local part");
      assertCode(await register(address.toUpperCase()), 409, "email_taken", "upper case");
    });

    test("NFC and NFD josé are one address, whichever came first: 409 email_taken", async () => {
      const tag = local();
      const nfc = `jos\u00e9${tag}@example.com`;
      const nfd = `jose\u0301${tag}@example.com`;
      const created = await register(nfd);
      assert.equal(created.status, 201);
      assert.equal(created.body.user.email, nfc, "the stored key is the composed form");
      assertCode(await register(nfc), 409, "email_taken", "NFC after NFD");
      const tag2 = local();
      assert.equal((await register(`jos\u00e9${tag2}@example.com`)).status, 201);
      assertCode(await register(`JOSE\u0301${tag2}@example.com`), 409, "email_taken", "NFD (upper case) after NFC");
    });

    test("a Unicode domain and its A-label are one address (UTS #46): 409 email_taken", async () => {
      const tag = local();
      const created = await register(`${tag}@Bücher.example`);
      assert.equal(created.status, 201);
      assert.equal(created.body.user.email, `${tag}@xn--bcher-kva.example`);
      assertCode(await register(`${tag}@xn--bcher-kva.example`), 409, "email_taken", "A-label after U-label");
      const tag2 = local();
      assert.equal((await register(`${tag2}@xn--bcher-kva.example`)).status, 201);
      assertCode(await register(`${tag2}@BÜCHER.example`), 409, "email_taken", "U-label after A-label");
    });

    test("a zero-width space before @, a leading U+202E and other invisible characters: 400 on email", async () => {
      const address = `${local()}@example.com`;
      assert.equal((await register(address)).status, 201);
      const [name, domain] = address.split("@") as [string, string];
      for (const [what, lookalike] of [
        ["zero-width space before @", `${name}\u200b@${domain}`],
        ["leading right-to-left override", `\u202e${address}`],
        ["soft hyphen in the local part", `${name.slice(0, 2)}\u00ad${name.slice(2)}@${domain}`],
        ["zero-width space in the domain", `${name}@exam\u200bple.com`],
        ["word joiner", `${name}\u2060@${domain}`],
      ]) {
        assertInvalid(await register(lookalike!), ["email"], what!);
      }
    });

    test("login with a lookalike reaches the original account", async () => {
      const tag = local();
      const created = await register(`jos\u00e9${tag}@Bücher.example`);
      assert.equal(created.status, 201);
      for (const lookalike of [
        `jose\u0301${tag}@bücher.example`,
        `JOS\u00c9${tag}@xn--bcher-kva.example`,
        `${fullWidth("jos")}\u00e9${fullWidth(tag)}＠Bücher．example`,
        `  jos\u00e9${tag}@BÜCHER.EXAMPLE  `,
      ]) {
        const login = await server.api.post("/login", { email: lookalike, password: PASSWORD });
        assert.equal(login.status, 200, `${JSON.stringify(lookalike)}: ${login.text}`);
        assert.equal(login.body.user.id, created.body.user.id, JSON.stringify(lookalike));
      }
    });

    test("login with invisible characters finds no account: 401, as any unknown address", async () => {
      const address = `${local()}@example.com`;
      assert.equal((await register(address)).status, 201);
      const [name, domain] = address.split("@") as [string, string];
      const login = await server.api.post("/login", { email: `${name}\u200b@${domain}`, password: PASSWORD });
      assertCode(login, 401, "invalid_credentials", "zero-width space");
    });
  });

  describe(`Unicode passwords: the NFKC form, and hashes from before it (${dialect})`, () => {
    let shared: Awaited<ReturnType<typeof sharedDatabase>>;
    let server: TestServer;
    before(async () => {
      shared = await sharedDatabase(dialect);
      server = await startServer({ dialect, databaseUrl: shared.database.url, rateLimit: NO_THROTTLE });
    });
    after(async () => {
      await server.close();
      await shared.close();
    });

    test("a password registered in one form signs in in any other; the hash records the form", async () => {
      const email = `${local()}@example.com`;
      const nfd = "cafe\u0301 au lait, s'il vous plai\u0302t";
      const created = await server.api.post("/register", { email, password: nfd });
      assert.equal(created.status, 201, created.text);
      assert.match(await storedHash(shared.db, created.body.user.id), /^nfkc\$argon2id\$/);
      for (const form of [nfd.normalize("NFC"), nfd, fullWidth("caf") + "\u00e9 au lait, s'il vous pla\u00eet"]) {
        assert.equal((await server.api.post("/login", { email, password: form })).status, 200, JSON.stringify(form));
      }
      assertCode(
        await server.api.post("/login", { email, password: "cafe au lait, s'il vous plait" }),
        401,
        "invalid_credentials",
        "no accents",
      );
    });

    test("a hash from before the rule signs in with the password as sent, and is rewritten in the new form", async () => {
      const email = `${local()}@example.com`;
      const sent = fullWidth("legacy") + " passphrase of old";
      const legacy = await hashPassword(sent);
      const id = await insertLegacyUser(shared.db, email, legacy);
      // Before the rewrite the normalised twin is another password: the hash was made of the full-width one.
      assertCode(await server.api.post("/login", { email, password: "legacy passphrase of old" }), 401, "invalid_credentials", "twin");
      assert.equal(await storedHash(shared.db, id), legacy);
      const login = await server.api.post("/login", { email, password: sent });
      assert.equal(login.status, 200, login.text);
      assert.equal(login.body.user.id, id);
      const rewritten = await storedHash(shared.db, id);
      assert.match(rewritten, /^nfkc\$argon2id\$/);
      // Now the hash is of the NFKC form: both forms sign in, and the rewrite revoked nothing.
      assert.equal((await server.api.post("/login", { email, password: "legacy passphrase of old" })).status, 200);
      assert.equal((await server.api.post("/login", { email, password: sent })).status, 200);
      assert.equal((await server.api.get("/profile", login.body.access)).status, 200);
      assert.equal(await storedHash(shared.db, id), rewritten, "rewritten once");
    });

    test("a hash from before the rule of a normalised password signs in with any form of it", async () => {
      const email = `${local()}@example.com`;
      const id = await insertLegacyUser(shared.db, email, await hashPassword("plain old passphrase"));
      const login = await server.api.post("/login", { email, password: fullWidth("plain") + " old passphrase" });
      assert.equal(login.status, 200, login.text);
      assert.match(await storedHash(shared.db, id), /^nfkc\$/);
    });

    test("a wrong password leaves a legacy hash as it is", async () => {
      const email = `${local()}@example.com`;
      const legacy = await hashPassword("some old passphrase");
      const id = await insertLegacyUser(shared.db, email, legacy);
      assertCode(await server.api.post("/login", { email, password: "another passphrase" }), 401, "invalid_credentials", "wrong");
      assert.equal(await storedHash(shared.db, id), legacy);
    });

    test("POST /password checks a legacy current password and stores the new one in the new form", async () => {
      const email = `${local()}@example.com`;
      const sent = fullWidth("older") + " passphrase here";
      const id = await insertLegacyUser(shared.db, email, await hashPassword(sent));
      const { access } = await server.api.login(email, sent);
      const changed = await server.api.post("/password", { current_password: sent, new_password: "ﬁne new passphrase" }, access);
      assert.equal(changed.status, 200, changed.text);
      assert.match(await storedHash(shared.db, id), /^nfkc\$/);
      assert.equal((await server.api.post("/login", { email, password: "fine new passphrase" })).status, 200);
    });

    test("unassigned code points and the length of the NFKC form: 400 on the password", async () => {
      assertInvalid(
        await server.api.post("/register", { email: `${local()}@example.com`, password: "my long pass \u0378" }),
        ["password"],
        "unassigned",
      );
      // 15 code points sent, 270 once normalised (U+FDFA is 18).
      assertInvalid(
        await server.api.post("/register", { email: `${local()}@example.com`, password: "\ufdfa".repeat(15) }),
        ["password"],
        "long",
      );
      // 8 code points sent, 6 once normalised.
      assertInvalid(
        await server.api.post("/register", { email: `${local()}@example.com`, password: "k7#Q" + "e\u0301".repeat(2) }),
        ["password"],
        "short",
      );
    });

    test('"\\ud800 my long pass" cannot sign in as "\\udfff my long pass", even where argon2 once took both as U+FFFD', async () => {
      // What a tokenver before the rule stored for "\ud800 my long pass": argon2 got UTF-8, with U+FFFD.
      const email = `${local()}@example.com`;
      const id = await insertLegacyUser(shared.db, email, await hashPassword("\ud800 my long pass"));
      for (const password of ["\udfff my long pass", "\ud800 my long pass", "\udbff my long pass"]) {
        assertInvalid(await server.api.post("/login", { email, password }), ["password"], JSON.stringify(password));
      }
      assertInvalid(
        await server.api.post("/register", { email: `${local()}@example.com`, password: "\ud800 my long pass" }),
        ["password"],
        "register",
      );
      assert.equal((await storedHash(shared.db, id)).startsWith("$argon2id$"), true, "nothing signed in");
    });
  });
}

/** One auth service, three front ends: the built-in server, the Fastify plugin, the Express middleware. */
describe("lone surrogates: 400 validation_failed in every field, on every adapter", () => {
  let auth: Auth<typeof userFields>;
  let database: TestDatabase;
  const fronts: Array<{ name: string; api: Api }> = [];
  const closers: Array<() => Promise<void>> = [];
  before(async () => {
    database = await createTestDatabase("sqlite");
    auth = await createAuth({ secret: TEST_SECRET, userFields, databaseUrl: database.url, rateLimit: NO_THROTTLE });
    const { buildServer } = await import("../src/server.js");
    const server = await listenFastify(await buildServer(auth));
    const fastifyApp = Fastify();
    await fastifyApp.register(tokenverFastify, { auth, routes: { prefix: "/auth" } });
    const onFastify = await listenFastify(fastifyApp);
    const expressApp = express();
    expressApp.use(tokenverExpress({ auth, routes: { prefix: "/auth" } }));
    expressApp.use(problemHandler);
    const onExpress = await listenExpress(expressApp);
    fronts.push(
      { name: "server", api: new Api(server.url) },
      { name: "fastify", api: new Api(`${onFastify.url}/auth`) },
      { name: "express", api: new Api(`${onExpress.url}/auth`) },
    );
    closers.push(server.close, onFastify.close, onExpress.close);
  });
  after(async () => {
    await Promise.all(closers.map((close) => close()));
    await auth.close();
    await database.drop();
  });

  const LONE = ["\ud800", "\udfff", "\udbff"];

  test("POST /register: email, password, username and custom fields", async () => {
    for (const { name, api } of fronts) {
      for (const lone of LONE) {
        const body = { email: `${local()}@example.com`, password: PASSWORD };
        assertInvalid(await api.post("/register", { ...body, email: `a${lone}${body.email}` }), ["email"], `${name} email`);
        assertInvalid(await api.post("/register", { ...body, password: `${lone} my long pass` }), ["password"], `${name} password`);
        assertInvalid(await api.post("/register", { ...body, username: `bob${lone}` }), ["username"], `${name} username`);
        assertInvalid(await api.post("/register", { ...body, nickname: `n${lone}` }), ["nickname"], `${name} custom field`);
        assertInvalid(await api.post("/register", { ...body, tags: ["ok", lone] }), ["tags.1"], `${name} custom array`);
        assertInvalid(
          await api.post("/register", { ...body, email: lone, password: lone, username: lone }),
          ["email", "password", "username"],
          `${name} all three`,
        );
      }
    }
  });

  test("POST /login, /token/refresh, /password, /logout and PATCH /profile", async () => {
    for (const { name, api } of fronts) {
      const email = `${local()}@example.com`;
      const { access, refresh } = await api.register(email, PASSWORD);
      assertInvalid(await api.post("/login", { email: `${email}\ud800`, password: PASSWORD }), ["email"], `${name} login email`);
      assertInvalid(await api.post("/login", { email, password: `${PASSWORD}\udfff` }), ["password"], `${name} login password`);
      assertInvalid(await api.post("/token/refresh", { refresh: `${refresh}\ud800` }), ["refresh"], `${name} refresh`);
      assertInvalid(
        await api.post("/password", { current_password: `${PASSWORD}\ud800`, new_password: "another long passphrase" }, access),
        ["current_password"],
        `${name} current password`,
      );
      assertInvalid(
        await api.post("/password", { current_password: PASSWORD, new_password: "\udfff another long passphrase" }, access),
        ["new_password"],
        `${name} new password`,
      );
      assertInvalid(await api.post("/logout", { refresh: `\ud800${refresh}` }, access), ["refresh"], `${name} logout`);
      for (const [field, value] of [
        ["username", "bob\ud800"],
        ["nickname", "\udfff"],
      ] as const) {
        const patch = await api.request("PATCH", "/profile", { body: { [field]: value }, token: access });
        assertInvalid(patch, [field], `${name} PATCH ${field}`);
      }
      // Nothing above changed anything: the session and the password still work.
      assert.equal((await api.get("/profile", access)).status, 200);
      assert.equal((await api.post("/login", { email, password: PASSWORD })).status, 200);
    }
  });

  test("usernames: direction controls and invisible characters are 400; emoji with their joiners are not", async () => {
    for (const { name, api } of fronts) {
      const body = () => ({ email: `${local()}@example.com`, password: PASSWORD });
      for (const username of ["\u202eevil", "bo\u200bb", "b\u00adob", "bob\u2066"]) {
        assertInvalid(await api.post("/register", { ...body(), username }), ["username"], `${name} ${JSON.stringify(username)}`);
      }
      const created = await api.post("/register", { ...body(), username: "Anna ❤️ 👩\u200d👩\u200d👧" });
      assert.equal(created.status, 201, `${name}: ${created.text}`);
      assert.equal(created.body.user.username, "Anna ❤️ 👩\u200d👩\u200d👧", "stored as sent");
      const patch = await api.request("PATCH", "/profile", { body: { username: "\u202eevil" }, token: created.body.access });
      assertInvalid(patch, ["username"], `${name} PATCH`);
    }
  });

  test("the library refuses them too, with the same code and fields", async () => {
    const email = `${local()}@example.com`;
    const signedIn = await auth.register({ email, password: PASSWORD });
    const principal = await auth.verify(`Bearer ${signedIn.accessToken}`);
    const refused = async (what: string, call: () => Promise<unknown>, fields: string[]) => {
      await assert.rejects(call, (error: unknown) => {
        assert.ok(error instanceof AuthError, what);
        assert.equal(error.code, "validation_failed", what);
        assert.deepEqual(error.errors?.map((e) => e.field).sort(), [...fields].sort(), what);
        return true;
      });
    };
    await refused("register email", () => auth.register({ email: `a\ud800${local()}@example.com`, password: PASSWORD }), ["email"]);
    await refused("register password", () => auth.register({ email: `${local()}@example.com`, password: "\ud800 my long pass" }), [
      "password",
    ]);
    await refused("register username", () => auth.register({ email: `${local()}@example.com`, password: PASSWORD, username: "\udfff" }), [
      "username",
    ]);
    await refused("register custom", () => auth.register({ email: `${local()}@example.com`, password: PASSWORD, nickname: "\udfff" }), [
      "nickname",
    ]);
    await refused("login email", () => auth.login({ email: `${email}\ud800`, password: PASSWORD }), ["email"]);
    await refused("login password", () => auth.login({ email, password: "\udfff my long pass" }), ["password"]);
    await refused(
      "change password",
      () => auth.changePassword(principal, { currentPassword: `${PASSWORD}\ud800`, newPassword: "\udfff another passphrase" }),
      ["currentPassword", "newPassword"],
    );
    await refused("profile username", () => auth.updateProfile(principal, { username: "x\ud800" }), ["username"]);
    await refused("profile custom", () => auth.updateProfile(principal, { tags: ["\ud800"] }), ["tags.0"]);
    assert.equal((await auth.login({ email, password: PASSWORD })).user.id, signedIn.user.id);
  });
});
