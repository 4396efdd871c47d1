// A NUL byte (U+0000) in any id, cursor, filter or token a request carries: PostgreSQL's text
// cannot hold one, so unless it is refused before the store it comes back as a store failure
// (a 503 saying the database is down, which it is not). Each is a 4xx here, on every dialect.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "./support/databases.js";
import { startServer, type ApiResponse, type TestServer } from "./support/server.js";

const NUL = "\u0000";
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
/** A cursor of the right shape whose id part holds a NUL. */
const nulCursor = b64(["2030-01-01T00:00:00.000Z", `ab${NUL}cd`]);

for (const dialect of dialects()) {
  describe(`a NUL byte in ids, cursors, filters and tokens (${dialect})`, () => {
    let server: TestServer;
    let admin: string;
    let user: { access: string; refresh: string };
    before(async () => {
      server = await startServer({ dialect });
      const registered = await server.api.register();
      await server.auth.setRole(registered.user.id, "admin");
      admin = (await server.api.login(registered.email, registered.password)).access;
      const other = await server.api.register();
      user = { access: other.access, refresh: other.refresh };
    });
    after(() => server?.close());

    const cases: Array<{ name: string; send: () => Promise<ApiResponse>; status: number; code: string }> = [];
    const add = (name: string, status: number, code: string, send: () => Promise<ApiResponse>) => cases.push({ name, status, code, send });
    const id = encodeURIComponent(`ab${NUL}cd`);
    add("DELETE /sessions/{id}", 404, "not_found", () => server.api.request("DELETE", `/sessions/${id}`, { token: user.access }));
    add("GET /sessions?cursor", 400, "validation_failed", () => server.api.get(`/sessions?cursor=${nulCursor}`, user.access));
    add("GET /admin/users?cursor", 400, "validation_failed", () => server.api.get(`/admin/users?cursor=${nulCursor}`, admin));
    add("GET /admin/users?query", 400, "validation_failed", () => server.api.get(`/admin/users?query=${id}`, admin));
    add("GET /admin/events?cursor", 400, "validation_failed", () => server.api.get(`/admin/events?cursor=${nulCursor}`, admin));
    add("GET /admin/events?user_id", 400, "validation_failed", () => server.api.get(`/admin/events?user_id=${id}`, admin));
    add("GET /admin/events?type", 400, "validation_failed", () => server.api.get(`/admin/events?type=${id}`, admin));
    for (const path of ["", "/disable", "/enable", "/logout"]) {
      const method = path === "" ? "GET" : "POST";
      add(`${method} /admin/users/{id}${path}`, 404, "not_found", () =>
        server.api.request(method, `/admin/users/${id}${path}`, { token: admin }),
      );
    }
    add("DELETE /admin/users/{id}", 404, "not_found", () => server.api.request("DELETE", `/admin/users/${id}`, { token: admin }));
    for (const [path, field] of [
      ["/token/refresh", "refresh_token"],
      ["/logout", "refresh_token"],
    ] as const) {
      add(`POST ${path} ${field}`, path === "/logout" ? 204 : 400, path === "/logout" ? "" : "validation_failed", () =>
        server.api.request("POST", path, { body: { [field]: `ab${NUL}cd.efgh` }, token: path === "/logout" ? user.access : undefined }),
      );
    }
    for (const path of ["/password/reset", "/email/verify", "/email/cancel"]) {
      add(`POST ${path} token`, 400, "link_invalid", () =>
        server.api.post(path, { token: `ab${NUL}cd`, ...(path === "/password/reset" ? { new_password: "a brand new passphrase" } : {}) }),
      );
    }
    const basic = (id: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:some-secret`).toString("base64")}`;
    add("POST /introspect, a client id holding NUL", 401, "invalid_client", () =>
      server.api.request("POST", "/introspect", {
        raw: "token=abc",
        headers: { authorization: basic(`ab${NUL}cd`), "content-type": "application/x-www-form-urlencoded" },
      }),
    );
    add("POST /login/mfa mfa_token", 401, "mfa_token_invalid", () =>
      server.api.post("/login/mfa", { mfa_token: `ab${NUL}cd`, code: "123456" }),
    );

    test("the library's client calls: a name holding NUL is 400, an id holding NUL names no client", async () => {
      await assert.rejects(server.auth.createClient(`ab${NUL}cd`), { code: "validation_failed" });
      await assert.rejects(server.auth.deleteClient(`ab${NUL}cd`), { code: "not_found" });
    });

    test("each is answered as a malformed or unknown value is (an id names nothing, a cursor or filter is refused), never 5xx", async () => {
      const answers = [];
      for (const c of cases) {
        const response = await c.send();
        answers.push({ name: c.name, status: response.status, code: response.body?.code ?? "" });
      }
      assert.deepEqual(
        answers,
        cases.map(({ name, status, code }) => ({ name, status, code })),
      );
    });
  });
}
