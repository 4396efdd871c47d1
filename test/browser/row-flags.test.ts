import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { advanceCsrfEpoch } from "../../src/core/browser/csrf-token.js";
import { ENDPOINTS, endpoint, NO_BODY, type AnyEndpoint } from "../../src/http/endpoints.js";
import { openStore, type Store } from "../../src/store/database.js";
import { createTestDatabase, type TestDatabase } from "../support/databases.js";
import { startServer, type TestServer } from "../support/server.js";
import express from "express";
import { createAuth } from "../../src/index.js";
import { tokenver } from "../../src/http/express/guard.js";
import { listenExpress } from "../library/helpers.js";
import { Api, TEST_SECRET } from "../support/server.js";
import { CSRF, assertProblem, pageHeaders, registerInCookieMode, setCookies } from "./helpers.js";

// The row flags other capabilities use (docs/browser.md): `renewsCsrf` for a flow that moves the
// CSRF epoch without issuing tokens (a second-factor change), and `cors: false` (introspection).
// Two rows of this test's own are added to the table before the server is built (this file runs
// in a process of its own).
const OTHER = "http://app.example.test";
let store: Store;

(ENDPOINTS as AnyEndpoint[]).push(
  endpoint({
    method: "POST",
    path: "/test/second-factor-change",
    access: "user",
    tags: ["test"],
    summary: "moves the CSRF epoch like a second-factor change",
    status: 204,
    response: NO_BODY("done"),
    errors: {},
    renewsCsrf: true,
    handler: async ({ principal }) => void (await advanceCsrfEpoch(store.db, principal.sessionId)),
  }),
  endpoint({
    method: "POST",
    path: "/test/never-cors",
    access: "public",
    tags: ["test"],
    summary: "never CORS-enabled",
    status: 204,
    response: NO_BODY("done"),
    errors: {},
    cors: false,
    handler: async () => undefined,
  }),
);

describe("row flags for other capabilities", () => {
  let server: TestServer;
  let dir: string;
  let database: TestDatabase;
  const origin = "http://127.0.0.1:3000";
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tokenver-rows-"));
    database = await createTestDatabase("sqlite", join(dir, "rows.db"));
    server = await startServer({ databaseUrl: database.url, sqliteLock: false, allowedOrigins: OTHER });
    store = await openStore(database.url);
  });
  after(async () => {
    await store.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("renewsCsrf: after advanceCsrfEpoch the old CSRF token is refused and the answer re-sets the cookie with a new one", async () => {
    const session = await registerInCookieMode(server.api, origin);
    const changed = await server.api.request("POST", "/test/second-factor-change", { headers: pageHeaders(origin, session) });
    assert.equal(changed.status, 204, changed.text);
    const renewed = setCookies(changed).get(CSRF);
    assert.ok(renewed !== undefined, "the CSRF cookie is re-set");
    assert.deepEqual(Object.keys(renewed.attributes).sort(), ["max-age", "path", "samesite", "secure"]);
    const patch = (csrf: string) =>
      server.api.request("PATCH", "/profile", { body: { username: "x" }, headers: pageHeaders(origin, { access: session.access, csrf }) });
    assertProblem(await patch(session.csrf), 403, "csrf_failed", "a token of the old epoch");
    assert.equal((await patch(renewed.value)).status, 200);
  });

  test("cors: false: no CORS headers, and its preflight is not answered for an allowed origin", async () => {
    const call = await server.api.request("POST", "/test/never-cors", { headers: { origin: OTHER } });
    assert.equal(call.status, 204);
    assert.equal(call.headers.get("access-control-allow-origin"), null);
    const preflight = await server.api.request("OPTIONS", "/test/never-cors", {
      headers: { origin: OTHER, "access-control-request-method": "POST" },
    });
    assert.equal(preflight.headers.get("access-control-allow-origin"), null);
    assert.notEqual(preflight.status, 204);
    // Another row is CORS-enabled as usual.
    const health = await server.api.request("GET", "/health", { headers: { origin: OTHER } });
    assert.equal(health.headers.get("access-control-allow-origin"), OTHER);
  });
});

test("cors: false in the Express guard too", async () => {
  const auth = await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET, allowedOrigins: OTHER });
  const app = express();
  app.use(tokenver({ auth }));
  const listening = await listenExpress(app);
  try {
    const api = new Api(listening.url);
    const preflight = await api.request("OPTIONS", "/test/never-cors", {
      headers: { origin: OTHER, "access-control-request-method": "POST" },
    });
    assert.equal(preflight.headers.get("access-control-allow-origin"), null);
    // (The guard's endpoint routers were built from the table as this file imported it, before
    // the test's rows were added; the CORS exemption reads the table when the guard is made.)
    const health = await api.request("GET", "/health", { headers: { origin: OTHER } });
    assert.equal(health.headers.get("access-control-allow-origin"), OTHER);
  } finally {
    await listening.close();
    await auth.close();
  }
});
