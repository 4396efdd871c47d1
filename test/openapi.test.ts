import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ERRORS, type ErrorCode } from "../src/core/errors.js";
import { createAuth } from "../src/create-auth.js";
import { buildServer } from "../src/server.js";
import { startServer, TEST_SECRET, uniqueEmail, type TestServer } from "./support/server.js";

/**
 * The endpoints of docs/api.md section 3 (Fastify's `:id` is `{id}` in OpenAPI): method, path, whether
 * it takes a JSON body (and its required fields), the success status, and each error status with
 * a code it must document.
 */
interface Endpoint {
  method: "get" | "post" | "patch" | "delete";
  path: string;
  bearer: boolean;
  body?: string[];
  success: number;
  errors: Record<number, readonly ErrorCode[]>;
}

const BODY_ERRORS = { 400: ["validation_failed", "bad_request"], 413: ["payload_too_large"], 415: ["unsupported_media_type"] } as const;
const TOKEN_ERRORS: ErrorCode[] = ["token_missing", "token_invalid", "token_expired", "token_revoked"];
const UNAVAILABLE = { 503: ["service_unavailable"] } as const;

const ENDPOINTS: Endpoint[] = [
  {
    method: "post",
    path: "/register",
    bearer: false,
    body: ["email", "password"],
    success: 201,
    errors: { ...BODY_ERRORS, 409: ["email_taken"], 429: ["rate_limited"], ...UNAVAILABLE },
  },
  {
    method: "post",
    path: "/login",
    bearer: false,
    body: ["email", "password"],
    success: 200,
    errors: { ...BODY_ERRORS, 401: ["invalid_credentials"], 429: ["rate_limited"], ...UNAVAILABLE },
  },
  {
    method: "post",
    path: "/token/refresh",
    bearer: false,
    // Optional since cookie mode (docs/api.md section 6): the refresh cookie stands in for it.
    body: [],
    success: 200,
    errors: { ...BODY_ERRORS, 401: ["token_invalid", "token_expired", "token_revoked", "refresh_reused"], ...UNAVAILABLE },
  },
  { method: "post", path: "/logout", bearer: true, body: [], success: 204, errors: { ...BODY_ERRORS, 401: TOKEN_ERRORS, ...UNAVAILABLE } },
  { method: "get", path: "/profile", bearer: true, success: 200, errors: { 401: TOKEN_ERRORS, ...UNAVAILABLE } },
  {
    method: "patch",
    path: "/profile",
    bearer: true,
    body: [],
    success: 200,
    errors: { ...BODY_ERRORS, 401: TOKEN_ERRORS, ...UNAVAILABLE },
  },
  {
    method: "post",
    path: "/password",
    bearer: true,
    body: ["current_password", "new_password"],
    success: 200,
    errors: { ...BODY_ERRORS, 401: TOKEN_ERRORS, 403: ["invalid_credentials"], ...UNAVAILABLE },
  },
  {
    method: "get",
    path: "/sessions",
    bearer: true,
    success: 200,
    errors: { 400: ["validation_failed"], 401: TOKEN_ERRORS, ...UNAVAILABLE },
  },
  {
    method: "delete",
    path: "/sessions/{id}",
    bearer: true,
    success: 204,
    errors: { 401: TOKEN_ERRORS, 404: ["not_found"], ...UNAVAILABLE },
  },
  { method: "get", path: "/health", bearer: false, success: 200, errors: { ...UNAVAILABLE } },
  { method: "get", path: "/openapi.json", bearer: false, success: 200, errors: {} },
  { method: "get", path: "/docs", bearer: false, success: 200, errors: {} },
];

/** Every string a schema allows for a property: enum, const, and the same within anyOf/oneOf. */
function allowedValues(schema: any): string[] {
  if (schema === undefined || schema === null) return [];
  const own = [...(schema.enum ?? []), ...(schema.const === undefined ? [] : [schema.const])];
  return [...own, ...[...(schema.anyOf ?? []), ...(schema.oneOf ?? [])].flatMap(allowedValues)];
}

describe("GET /openapi.json", () => {
  let server: TestServer;
  let doc: any;
  before(async () => {
    server = await startServer();
    const response = await server.api.get("/openapi.json");
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    doc = response.body;
  });
  after(() => server.close());

  test("is an OpenAPI 3.1 document with a bearer security scheme", () => {
    assert.match(doc.openapi, /^3\.1\./);
    assert.equal(typeof doc.info?.title, "string");
    assert.equal(doc.components?.securitySchemes?.bearerAuth?.scheme, "bearer");
  });

  test("describes bodies as served: unknown keys ignored, a logout without a body", async () => {
    assert.equal(doc.paths["/logout"].post.requestBody.required, false);
    assert.equal(doc.paths["/login"].post.requestBody.required, true);
    for (const [path, operations] of Object.entries<any>(doc.paths)) {
      for (const [method, operation] of Object.entries<any>(operations)) {
        const schema = operation.requestBody?.content?.["application/json"]?.schema;
        if (schema !== undefined) assert.notEqual(schema.additionalProperties, false, `${method} ${path}`);
      }
    }
    // Describing them so changed nothing in validation: unknown and protected keys are still dropped.
    const response = await server.api.post("/register", {
      email: uniqueEmail(),
      password: "a long and unguessable passphrase",
      token_version: 7,
      id: "chosen-by-client",
      extra: 1,
    });
    assert.equal(response.status, 201, response.text);
    assert.equal(response.body.user.token_version, 0);
    assert.notEqual(response.body.user.id, "chosen-by-client");
    assert.equal("extra" in response.body.user, false);
  });

  test("is public: no token needed", async () => {
    assert.equal((await server.api.get("/openapi.json")).status, 200);
    assert.equal((await server.api.get("/openapi.json/")).status, 200);
  });

  for (const endpoint of ENDPOINTS) {
    const name = `${endpoint.method.toUpperCase()} ${endpoint.path}`;

    test(`${name} is listed with its security and success response`, () => {
      const operation = doc.paths?.[endpoint.path]?.[endpoint.method];
      assert.ok(operation, `${name} missing from paths (have: ${Object.keys(doc.paths ?? {}).join(", ")})`);
      assert.ok(operation.responses?.[endpoint.success], `${name}: success ${endpoint.success} documented`);
      const bearer = (operation.security ?? []).some((s: object) => "bearerAuth" in s);
      assert.equal(bearer, endpoint.bearer, `${name}: bearerAuth security`);
      if (endpoint.path.includes("{id}")) {
        assert.ok(
          operation.parameters?.some((p: any) => p.in === "path" && p.name === "id" && p.required),
          `${name}: path parameter id`,
        );
      }
    });

    if (endpoint.body !== undefined) {
      test(`${name} documents its JSON request body`, () => {
        const schema = doc.paths[endpoint.path][endpoint.method].requestBody?.content?.["application/json"]?.schema;
        assert.ok(schema, `${name}: requestBody schema`);
        assert.equal(schema.type, "object");
        for (const field of endpoint.body!) {
          assert.ok(schema.properties?.[field], `${name}: body property ${field}`);
          assert.ok(schema.required?.includes(field), `${name}: ${field} required`);
        }
      });
    }

    if (Object.keys(endpoint.errors).length > 0) {
      test(`${name} documents its error statuses as problem+json with their codes`, () => {
        const responses = doc.paths[endpoint.path][endpoint.method].responses;
        for (const [status, codes] of Object.entries(endpoint.errors)) {
          const response = responses?.[status];
          assert.ok(response, `${name}: ${status} documented`);
          const schema = response.content?.["application/problem+json"]?.schema;
          assert.ok(schema, `${name}: ${status} is problem+json`);
          for (const field of ["type", "title", "status", "detail", "code"])
            assert.ok(schema.required?.includes(field), `${name}: ${status} requires ${field}`);
          const documented = allowedValues(schema.properties.code);
          for (const code of codes)
            assert.ok(documented.includes(code), `${name}: ${status} lists code ${code} (has ${documented.join(", ")})`);
          // A status never lists a code that the server sends with another status.
          for (const code of documented) {
            const expected = code === "invalid_credentials" ? [401, 403] : [ERRORS[code as ErrorCode].status];
            assert.ok(expected.includes(Number(status)), `${name}: ${code} does not belong under ${status}`);
          }
        }
        if (responses[429]) assert.ok(responses[429].headers?.["Retry-After"], `${name}: 429 documents Retry-After`);
        if (responses[401]) assert.ok(responses[401].headers?.["WWW-Authenticate"], `${name}: 401 documents WWW-Authenticate`);
      });
    }
  }

  test("the routes that hash a password document Retry-After on 503 (a full hashing queue)", () => {
    for (const path of ["/register", "/login", "/password"]) {
      assert.ok(doc.paths[path].post.responses[503].headers?.["Retry-After"], `POST ${path}: 503 documents Retry-After`);
    }
  });

  test("GET /sessions documents its query parameters and next_cursor", () => {
    const operation = doc.paths["/sessions"].get;
    const names = (operation.parameters ?? []).filter((p: any) => p.in === "query" && !p.required).map((p: any) => p.name);
    assert.deepEqual(names.sort(), ["cursor", "limit"]);
    assert.ok(operation.responses[200].content["application/json"].schema.properties.next_cursor);
  });

  test("the Swagger UI's own spec URL serves the same document", async () => {
    const response = await server.api.get("/docs/json");
    assert.equal(response.status, 200);
    assert.equal(response.body.openapi, doc.openapi);
    assert.deepEqual(Object.keys(response.body.paths).sort(), Object.keys(doc.paths).sort());
  });
});

describe("GET /docs", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test("is an HTML page with no external script or style, and its assets load", async () => {
    const page = await fetch(`${server.url}/docs`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    const html = await page.text();

    const references = [...html.matchAll(/<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]!);
    assert.ok(
      references.some((r) => r.endsWith(".js")),
      "the page loads a script",
    );
    assert.ok(
      references.some((r) => r.endsWith(".css")),
      "the page loads a stylesheet",
    );
    for (const reference of references) {
      assert.doesNotMatch(reference, /^(https?:)?\/\//i, `no CDN or other external URL: ${reference}`);
      const asset = await fetch(new URL(reference, `${server.url}/docs/`));
      assert.equal(asset.status, 200, `${reference} loads`);
      await asset.arrayBuffer();
    }
  });

  test("its content security policy allows only its own origin (no https: wildcard, no validator images)", async () => {
    const page = await fetch(`${server.url}/docs`);
    await page.arrayBuffer();
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /object-src 'none'/);
    assert.doesNotMatch(csp, /https:|validator\.swagger\.io|\*/);
  });

  test("the Swagger UI initializer fetches no external validator", async () => {
    const initializer = await fetch(`${server.url}/docs/static/swagger-initializer.js`);
    assert.equal(initializer.status, 200);
    const text = await initializer.text();
    assert.match(text, /validatorUrl:\s*null/);
  });
});

test("only /docs and the paths below it are public: /docs-admin is not", async () => {
  const auth = await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET });
  const app = await buildServer(auth);
  try {
    app.get("/docs-admin", async () => "admin");
    app.get("/docsx/page", async () => "x");
    for (const url of ["/docs-admin", "/docsx/page"]) {
      const response = await app.inject({ url });
      assert.equal(response.statusCode, 401, url);
      assert.equal(response.json().code, "token_missing");
    }
    for (const url of ["/docs", "/docs/", "/docs/json"]) assert.equal((await app.inject({ url })).statusCode, 200, url);
  } finally {
    await app.close();
    await auth.close();
  }
});
