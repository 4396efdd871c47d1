import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { USER_KEYS } from "./support/user-keys.js";
import { Type } from "typebox";
import { dialects } from "./support/databases.js";
import { startServer, type ApiResponse, type TestServer } from "./support/server.js";

function assertCode(response: ApiResponse, status: number, code: string, what: string) {
  assert.equal(response.status, status, `${what}: status`);
  assert.equal(response.body?.code, code, `${what}: code`);
}

function assertInvalidField(response: ApiResponse, field: string, what: string) {
  assertCode(response, 400, "validation_failed", what);
  assert.ok(
    response.body.errors?.some((e: { field: string }) => e.field === field),
    `${what}: errors[] names ${field}: ${JSON.stringify(response.body.errors)}`,
  );
}

const userFields = {
  company: Type.String({ minLength: 1, maxLength: 40 }),
  newsletter: Type.Optional(Type.Boolean()),
};

for (const dialect of dialects()) {
  describe(`GET and PATCH /profile (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer({ dialect, userFields });
    });
    after(() => server.close());

    const patch = (body: unknown, token: string) => server.api.request("PATCH", "/profile", { body, token });
    const register = () => server.api.register(undefined, undefined, { company: "Acme" });

    test("GET returns the user: contract fields plus custom fields, never a secret", async () => {
      const { api } = server;
      const user = await register();
      const profile = await api.get("/profile", user.access);
      assert.equal(profile.status, 200);
      assert.deepEqual(Object.keys(profile.body).sort(), [...USER_KEYS, "company"].sort());
      assert.equal(profile.body.id, user.user.id);
      assert.equal(profile.body.username, null);
      assert.equal(profile.body.company, "Acme");
      assert.equal(profile.headers.get("cache-control"), "no-store");
      assert.ok(!/argon2|password/i.test(profile.text));
    });

    test("username can be set and cleared with null; an empty patch changes nothing", async () => {
      const user = await register();
      const set = await patch({ username: "ada" }, user.access);
      assert.equal(set.status, 200);
      assert.equal(set.body.username, "ada");
      assert.equal((await server.api.get("/profile", user.access)).body.username, "ada");

      const cleared = await patch({ username: null }, user.access);
      assert.equal(cleared.status, 200);
      assert.equal(cleared.body.username, null);

      await patch({ username: "grace" }, user.access);
      const untouched = await patch({}, user.access);
      assert.equal(untouched.status, 200);
      assert.equal(untouched.body.username, "grace", "a patch without username leaves it alone");
      assert.equal(untouched.body.company, "Acme");
    });

    test("custom fields are patched one at a time; the others survive", async () => {
      const user = await register();
      const first = await patch({ newsletter: true }, user.access);
      assert.equal(first.status, 200);
      assert.equal(first.body.newsletter, true);
      assert.equal(first.body.company, "Acme");
      const second = await patch({ company: "Initech" }, user.access);
      assert.equal(second.body.company, "Initech");
      assert.equal(second.body.newsletter, true);
    });

    test("protected and unknown fields in the body are never applied", async () => {
      const { api } = server;
      const user = await register();
      const before = (await api.get("/profile", user.access)).body;
      const attempt = await patch(
        {
          id: "00000000-0000-0000-0000-000000000000",
          email: "attacker@example.com",
          token_version: 99,
          created_at: "2000-01-01T00:00:00.000Z",
          password: "a brand new password for me",
          password_hash: "$argon2id$forged",
          is_admin: true,
          username: "legit",
        },
        user.access,
      );
      assert.equal(attempt.status, 200);
      assert.equal(attempt.body.username, "legit", "the allowed field in the same body is applied");
      assert.equal(attempt.body.is_admin, undefined);
      const after = (await api.get("/profile", user.access)).body;
      assert.deepEqual({ ...after, username: before.username }, before, "only username changed");
      // The version did not move (the old token still works) and the password did not change.
      assert.equal(after.token_version, 0);
      await api.login(user.email, user.password);
      assertCode(
        await api.post("/login", { email: "attacker@example.com", password: "a brand new password for me" }),
        401,
        "invalid_credentials",
        "forged email",
      );
    });

    test("wrong types and invalid values are 400 validation_failed naming the field", async () => {
      const user = await register();
      assertInvalidField(await patch({ username: 123 }, user.access), "username", "a number");
      assertInvalidField(await patch({ username: "" }, user.access), "username", "empty");
      assertInvalidField(await patch({ username: "u".repeat(65) }, user.access), "username", "too long");
      assertInvalidField(await patch({ company: 5 }, user.access), "company", "custom field, a number");
      assertInvalidField(await patch({ company: "" }, user.access), "company", "custom field, too short");
      assertInvalidField(await patch({ newsletter: "yes" }, user.access), "newsletter", "no coercion of strings to booleans");
      assertCode(await patch([{ username: "x" }], user.access), 400, "validation_failed", "an array body");
      assertCode(
        await server.api.request("PATCH", "/profile", {
          raw: "{not json",
          token: user.access,
          headers: { "content-type": "application/json" },
        }),
        400,
        "bad_request",
        "unparsable",
      );
      assertCode(
        await server.api.request("PATCH", "/profile", { raw: "username=x", token: user.access, headers: { "content-type": "text/plain" } }),
        415,
        "unsupported_media_type",
        "not JSON",
      );
      // Nothing was applied by any of them.
      const profile = await server.api.get("/profile", user.access);
      assert.equal(profile.body.username, null);
      assert.equal(profile.body.company, "Acme");
    });

    test("register validates custom fields too and ignores protected ones", async () => {
      const { api } = server;
      assertInvalidField(
        await api.post("/register", { email: `x${Date.now()}@example.com`, password: "a long and unguessable passphrase" }),
        "company",
        "required custom field missing",
      );
      const created = await api.post("/register", {
        email: `y${Date.now()}@example.com`,
        password: "a long and unguessable passphrase",
        company: "Acme",
        token_version: 7,
        id: "chosen-id",
        created_at: "2000-01-01T00:00:00.000Z",
      });
      assert.equal(created.status, 201);
      assert.equal(created.body.user.token_version, 0);
      assert.notEqual(created.body.user.id, "chosen-id");
      assert.notEqual(created.body.user.created_at, "2000-01-01T00:00:00.000Z");
    });

    test("a custom field holding U+0000 is 400 validation_failed, on registration and in a patch, and nothing is stored", async () => {
      const { api } = server;
      const email = `nul${Date.now()}@example.com`;
      const refused = await api.post("/register", { email, password: "a long and unguessable passphrase", company: "Ac\u0000me" });
      assertInvalidField(refused, "company", "register with NUL");
      assert.ok(
        refused.body.errors.some((e: { message: string }) => /U\+0000/.test(e.message)),
        JSON.stringify(refused.body.errors),
      );
      // The address stayed free: nothing was written.
      assert.equal((await api.post("/register", { email, password: "a long and unguessable passphrase", company: "Acme" })).status, 201);

      const user = await register();
      assertInvalidField(await patch({ company: "\u0000" }, user.access), "company", "patch with NUL");
      assert.equal((await server.api.get("/profile", user.access)).body.company, "Acme");
    });

    test("requires a bearer token", async () => {
      assertCode(await server.api.request("PATCH", "/profile", { body: { username: "x" } }), 401, "token_missing", "PATCH");
      assertCode(await server.api.get("/profile"), 401, "token_missing", "GET");
    });
  });
}
