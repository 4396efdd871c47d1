import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { startServer, type TestServer } from "./support/server.js";

/**
 * The restructure of issue 11 (one endpoint table for Fastify, Express and OpenAPI) changes no
 * byte of meaning in the served document: GET /openapi.json equals the document served before it
 * (test/fixtures/openapi-v1.json, committed as it was). An intended change of the document is
 * applied to a copy of the fixture here, by name, never to the fixture itself.
 */
const INTENDED_CHANGES: Array<{ name: string; apply(document: any): void }> = [
  {
    // One limit for emails everywhere (src/core/limits.ts): RFC 5321's 254, not the column's 320.
    name: "email maxLength 254",
    apply: (document) => {
      const visit = (node: any): void => {
        if (node === null || typeof node !== "object") return;
        if (node.email?.type === "string" && node.email.maxLength === 320) node.email.maxLength = 254;
        for (const value of Object.values(node)) visit(value);
      };
      visit(document);
    },
  },
  {
    // Issue 19: /register throttled per address (429); on the routes that hash a password, a 503
    // also comes when the hashing queue is full, then with Retry-After; POST /password counts its
    // failures per session (a 5th revokes it: 401), so it no longer answers 429.
    name: "registration throttle, bounded hashing queue, per-session password re-checks",
    apply: (document) => {
      const paths = document.paths;
      paths["/register"].post.description =
        "Throttled per client address (`429` with `Retry-After`); `503` with `Retry-After` when the password-hashing queue is full.";
      paths["/register"].post.responses[429] = structuredClone(paths["/login"].post.responses[429]);
      for (const path of ["/register", "/login", "/password"]) {
        const unavailable = paths[path].post.responses[503];
        unavailable.headers = {
          "Retry-After": {
            schema: { type: "integer", minimum: 1 },
            description: "Seconds to wait, when the password-hashing queue was full (absent when a store did not answer).",
          },
        };
      }
      delete paths["/password"].post.responses[429];
    },
  },
  {
    // Issue 19: GET /sessions is paginated: ?limit=&cursor=, and next_cursor beside the contract's sessions.
    name: "GET /sessions pages",
    apply: (document) => {
      const operation = document.paths["/sessions"].get;
      operation.description =
        "Oldest first, a page at a time: pass `next_cursor` back as `cursor` for the next page; it is `null` on the last.";
      operation.parameters = [
        {
          schema: { type: "string", pattern: "^[0-9]{1,3}$" },
          in: "query",
          name: "limit",
          required: false,
          description: "Sessions per page, 1 to 100; default 50.",
        },
        {
          schema: { type: "string", maxLength: 256 },
          in: "query",
          name: "cursor",
          required: false,
          description: "The `next_cursor` of the previous page; omit it for the first.",
        },
      ];
      const list = operation.responses[200].content["application/json"].schema;
      list.required.push("next_cursor");
      list.properties.next_cursor = {
        anyOf: [{ type: "string" }, { type: "null" }],
        description: "Pass it as `cursor` for the next page; `null` on the last page.",
      };
      operation.responses[400] = structuredClone(document.paths["/profile"].patch.responses[400]);
    },
  },
  {
    // Issue 16: GET /events, the caller's own security events (docs/api.md section 10).
    name: "GET /events",
    apply: (document) => {
      const nullable = { anyOf: [{ type: "string" }, { type: "null" }] };
      const profile = document.paths["/profile"].get;
      const event = {
        type: "object",
        required: ["id", "type", "user_id", "session_id", "actor", "ip", "user_agent", "at", "detail"],
        properties: {
          id: { type: "string" },
          type: { type: "string", description: "`login.succeeded`, `logout`, `admin.disable`, ... (docs/api.md section 10)." },
          user_id: nullable,
          session_id: nullable,
          actor: { type: "string", description: "`self`, an admin's user id, `cli` or `system`." },
          ip: nullable,
          user_agent: nullable,
          at: { type: "string", format: "date-time" },
          detail: {
            type: "object",
            description: "A few facts (a reason, a scope); never a secret or what was typed.",
            additionalProperties: { anyOf: [{ type: "string" }, { type: "number" }, { type: "boolean" }, { type: "null" }] },
          },
        },
      };
      document.paths["/events"] = {
        get: {
          summary: "The caller's recent security activity",
          tags: ["events"],
          description:
            "The caller's own last 50 security events (sign-ins, failed sign-ins, logouts, revoked sessions, password changes), newest first.",
          security: structuredClone(profile.security),
          responses: {
            200: {
              description: "Default Response",
              content: {
                "application/json": {
                  schema: { type: "object", required: ["events"], properties: { events: { type: "array", items: event } } },
                },
              },
            },
            401: structuredClone(profile.responses[401]),
            503: structuredClone(profile.responses[503]),
          },
        },
      };
    },
  },
  {
    // Issue 16 (docs/api.md section 10): `user` gains role and disabled; login and refresh answer
    // 403 account_disabled; the admin API's paths, as committed in their own fixture.
    name: "administration: role, disabled, account_disabled, /admin/users",
    apply: (document) => {
      const visit = (node: any): void => {
        if (node === null || typeof node !== "object") return;
        const p = node.properties;
        if (p?.token_version !== undefined && p.created_at !== undefined && p.email !== undefined && p.id !== undefined) {
          p.role = {
            anyOf: [
              { type: "string", enum: ["user"] },
              { type: "string", enum: ["admin"] },
            ],
            description: "`admin` may call the admin API.",
          };
          p.disabled = {
            type: "boolean",
            description: "An administrator disabled the account: sign-in and refresh answer `403 account_disabled`.",
          };
          node.required.push("role", "disabled");
        }
        for (const value of Object.values(node)) visit(value);
      };
      visit(document);
      for (const path of ["/login", "/token/refresh"]) {
        const disabled = structuredClone(document.paths["/login"].post.responses[401]);
        disabled.description = "Problem details; code: account_disabled";
        disabled.content["application/problem+json"].schema.properties.code.anyOf = [{ type: "string", enum: ["account_disabled"] }];
        delete disabled.headers;
        document.paths[path].post.responses[403] = disabled;
      }
      Object.assign(document.paths, JSON.parse(readFileSync("test/fixtures/openapi-admin-paths.json", "utf8")));
    },
  },
  {
    // Issue 15 (docs/api.md section 9): `user` gains mfa_enabled and recovery_codes_left; /login
    // answers 403 mfa_required too; the second factor's paths, as committed in their own fixture.
    name: "second factor: mfa_enabled, recovery_codes_left, mfa_required, /login/mfa, /mfa/*",
    apply: (document) => {
      const visit = (node: any): void => {
        if (node === null || typeof node !== "object") return;
        const p = node.properties;
        if (p?.token_version !== undefined && p.created_at !== undefined && p.email !== undefined && p.id !== undefined) {
          p.mfa_enabled = {
            type: "boolean",
            description: "A second factor (TOTP) is on: sign-in answers `403 mfa_required` after the password.",
          };
          p.recovery_codes_left = { type: "integer", minimum: 0, description: "Unused recovery codes (0 while the second factor is off)." };
          node.required.push("mfa_enabled", "recovery_codes_left");
        }
        for (const value of Object.values(node)) visit(value);
      };
      visit(document);
      const login = document.paths["/login"].post;
      login.description =
        "With a second factor on, the right password answers `403 mfa_required` whose problem document carries an `mfa_token` for `POST /login/mfa`.";
      login.responses[403].description = "Problem details; code: account_disabled, mfa_required";
      login.responses[403].content["application/problem+json"].schema.properties.code.anyOf.push({
        type: "string",
        enum: ["mfa_required"],
      });
      Object.assign(document.paths, JSON.parse(readFileSync("test/fixtures/openapi-mfa-paths.json", "utf8")));
    },
  },
  {
    // Issue 12 (docs/api.md section 6): cookie mode. A token-issuing answer is either the bearer
    // pair or `{user?, token_type: "cookie", expires_in, csrf_token}`; /token/refresh's body may
    // be left out (the refresh cookie stands in for it).
    name: "cookie mode: cookie-mode answers, an optional refresh body",
    apply: (document) => {
      const user = structuredClone(document.paths["/register"].post.responses[201].content["application/json"].schema.properties.user);
      const cookieAnswer = {
        type: "object",
        required: ["token_type", "expires_in", "csrf_token"],
        properties: {
          user,
          token_type: { type: "string", enum: ["cookie"] },
          expires_in: { type: "integer", description: "Seconds until the access token expires." },
          csrf_token: {
            type: "string",
            description: "Send it back as X-CSRF-Token on unsafe requests (also in the __Host-tokenver-csrf cookie).",
          },
        },
      };
      for (const [path, status] of [
        ["/register", 201],
        ["/login", 200],
        ["/token/refresh", 200],
        ["/password", 200],
        ["/login/mfa", 200],
      ] as const) {
        const content = document.paths[path].post.responses[status].content["application/json"];
        content.schema = { anyOf: [content.schema, structuredClone(cookieAnswer)] };
      }
      const refresh = document.paths["/token/refresh"].post.requestBody;
      const said = "`refresh` is required in bearer mode; in cookie mode (`Tokenver-Mode: cookie`) the refresh cookie is used without it.";
      refresh.required = false;
      refresh.description = said;
      const schema = refresh.content["application/json"].schema;
      delete schema.required;
      schema.description = `${said} Unknown keys are ignored.`;
    },
  },
  {
    // Issue 14 (docs/api.md section 8): `user` gains email_verified; /register's tokens are absent
    // where a verified address is required; login's 403 also carries email_unverified; the
    // recovery paths and DELETE /profile, as committed in their own fixture.
    name: "account recovery and email: email_verified, /password/*, /email*, DELETE /profile",
    apply: (document) => {
      const visit = (node: any): void => {
        if (node === null || typeof node !== "object") return;
        const p = node.properties;
        if (p?.token_version !== undefined && p.created_at !== undefined && p.email !== undefined && p.disabled !== undefined) {
          p.email_verified = { type: "boolean", description: "The address was confirmed with a mailed link (`POST /email/verify`)." };
          node.required.push("email_verified");
        }
        for (const value of Object.values(node)) visit(value);
      };
      visit(document);
      const recovery = JSON.parse(readFileSync("test/fixtures/openapi-recovery-paths.json", "utf8"));
      document.paths["/register"].post.responses[201] = recovery.register201;
      document.paths["/login"].post.responses[403] = recovery.login403;
      document.paths["/profile"].delete = recovery.profileDelete;
      Object.assign(document.paths, recovery.paths);
    },
  },
  {
    // Issue 13 (docs/api.md section 7): the JWKS, the server metadata and introspection, as committed in their own fixture.
    name: "signing keys: /.well-known/jwks.json, /.well-known/oauth-authorization-server, /introspect",
    apply: (document) => {
      Object.assign(document.paths, JSON.parse(readFileSync("test/fixtures/openapi-keys-paths.json", "utf8")));
    },
  },
  {
    // Issue 20: GET /admin/events documented its 403 as `invalid_credentials`; a caller who is not
    // an admin gets `403 forbidden` there, as on every admin path (test/admin-events.test.ts).
    name: "GET /admin/events: 403 forbidden",
    apply: (document) => {
      document.paths["/admin/events"].get.responses[403] = structuredClone(document.paths["/admin/users"].get.responses[403]);
    },
  },
  {
    // Issue 20: a cookie-mode POST /token/refresh with neither `refresh` nor the refresh cookie
    // answers `401 token_missing` (test/browser/cookie-mode.test.ts); its 401 now lists the code.
    name: "POST /token/refresh: 401 token_missing",
    apply: (document) => {
      const unauthorized = document.paths["/token/refresh"].post.responses[401];
      unauthorized.description = unauthorized.description.replace("code: ", "code: token_missing, ");
      unauthorized.content["application/problem+json"].schema.properties.code.anyOf.unshift({ type: "string", enum: ["token_missing"] });
    },
  },
];

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(() => server.close());

test("GET /openapi.json is the document served before the restructure", async () => {
  const expected = JSON.parse(readFileSync("test/fixtures/openapi-v1.json", "utf8"));
  for (const change of INTENDED_CHANGES) change.apply(expected);
  const response = await server.api.get("/openapi.json");
  assert.equal(response.status, 200);
  assert.deepStrictEqual(response.body, expected);
});
