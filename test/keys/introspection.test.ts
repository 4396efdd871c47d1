import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import express from "express";
import { problemHandler, tokenver } from "../../src/http/express/guard.js";
import { dialects } from "../support/databases.js";
import { startServer, type TestServer } from "../support/server.js";
import { listenExpress } from "../library/helpers.js";

// docs/api.md section 7, introspection (RFC 7662): service clients with HTTP Basic (RFC 6749
// 2.3.1 form-decoding), form-encoded requests, exactly {"active": false} for whatever verify
// refuses (revoked at once, refresh tokens), no-store, never CORS, 401 invalid_client otherwise.

const ACTIVE_KEYS = ["active", "amr", "exp", "iat", "iss", "jti", "sid", "sub", "token_type", "token_version"];
/** Every character percent-encoded: what a form-decoding server must turn back into the original. */
const encodeAll = (value: string) =>
  [...Buffer.from(value, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join("");
const basic = (id: string, secret: string, encode: (v: string) => string = encodeURIComponent) =>
  `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString("base64")}`;

async function introspectAt(url: string, body: string, headers: Record<string, string>) {
  const response = await fetch(`${url}/introspect`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: text ? JSON.parse(text) : undefined };
}

for (const dialect of dialects()) {
  describe(`POST /introspect (${dialect})`, () => {
    let server: TestServer;
    let client: { clientId: string; clientSecret: string };
    let auth: string;
    const introspect = (token: string, headers: Record<string, string> = { authorization: auth }) =>
      introspectAt(server.url, new URLSearchParams({ token }).toString(), headers);

    before(async () => {
      server = await startServer({ dialect, signingAlg: dialect === "sqlite" ? "EdDSA" : "HS256" });
      client = await server.auth.createClient("billing", { actor: "cli" });
      auth = basic(client.clientId, client.clientSecret);
    });
    after(() => server.close());

    test("the client: id and a secret of at least 256 bits, shown once, listed without secrets", async () => {
      assert.ok(Buffer.from(client.clientSecret, "base64url").length >= 32);
      const listed = await server.auth.listClients();
      assert.deepEqual(Object.keys(listed.find((c) => c.clientId === client.clientId)!).sort(), ["clientId", "createdAt", "name"]);
      assert.ok(!JSON.stringify(listed).includes(client.clientSecret));
    });

    test("an active token: its claims, exactly, no-store, never CORS", async () => {
      const user = await server.api.register();
      const response = await introspect(user.access, { authorization: auth, origin: "https://evil.example" });
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(Object.keys(response.body).sort(), ACTIVE_KEYS);
      assert.equal(response.body.active, true);
      assert.equal(response.body.sub, user.user.id);
      assert.equal(response.body.token_type, "Bearer");
      assert.equal(response.body.token_version, 0);
      assert.ok(Array.isArray(response.body.amr));
      assert.equal(response.headers.get("cache-control"), "no-store");
      assert.equal(response.headers.get("access-control-allow-origin"), null);
      const preflight = await fetch(`${server.url}/introspect`, {
        method: "OPTIONS",
        headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
      });
      assert.equal(preflight.headers.get("access-control-allow-origin"), null);
      // token_type_hint and unknown parameters are ignored.
      const hinted = await introspectAt(server.url, `token=${user.access}&token_type_hint=refresh_token&foo=bar`, { authorization: auth });
      assert.equal(hinted.body.active, true);
    });

    test("inactive: exactly {active: false} for revoked (at once), refresh, garbage, missing tokens", async () => {
      const user = await server.api.register();
      assert.equal((await introspect(user.access)).body.active, true);
      assert.equal((await server.api.post("/logout", {}, user.access)).status, 204);
      for (const [what, token] of [
        ["revoked", user.access],
        ["refresh", user.refresh],
        ["garbage", "not-a-token"],
        ["empty", ""],
      ] as const) {
        const response = await introspect(token);
        assert.equal(response.status, 200, `${what}: ${response.text}`);
        assert.equal(response.text, '{"active":false}', what);
        assert.equal(response.headers.get("cache-control"), "no-store");
      }
      const missing = await introspectAt(server.url, "", { authorization: auth });
      assert.equal(missing.text, '{"active":false}');
    });

    test("the client's credentials are form-decoded after Basic decoding (RFC 6749 2.3.1)", async () => {
      const user = await server.api.register();
      const response = await introspect(user.access, { authorization: basic(client.clientId, client.clientSecret, encodeAll) });
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.active, true);
      // Scheme case-insensitive.
      const lower = await introspect(user.access, { authorization: auth.replace("Basic", "basic") });
      assert.equal(lower.status, 200);
    });

    test("a missing or wrong client: 401 invalid_client with a Basic challenge; JSON is 415", async () => {
      const user = await server.api.register();
      const wrong: Array<Record<string, string>> = [
        {},
        { authorization: basic(client.clientId, `${client.clientSecret}x`) },
        { authorization: basic("tvc_unknown", client.clientSecret) },
        { authorization: `Bearer ${user.access}` },
        { authorization: "Basic !!!" },
        { authorization: `Basic ${Buffer.from(client.clientId).toString("base64")}` },
      ];
      for (const headers of wrong) {
        const response = await introspect(user.access, headers);
        assert.equal(response.status, 401, JSON.stringify(headers));
        assert.equal(response.body.code, "invalid_client");
        assert.equal(response.headers.get("www-authenticate"), 'Basic realm="tokenver"');
        assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/);
        assert.ok(!response.text.includes("active"));
      }
      const json = await fetch(`${server.url}/introspect`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: auth },
        body: JSON.stringify({ token: user.access }),
      });
      assert.equal(json.status, 415);
      // Other routes stay JSON only.
      const formLogin = await fetch(`${server.url}/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "email=a%40b.c&password=whatever",
      });
      assert.equal(formLogin.status, 415);
    });

    test("never CORS, even for an allowed origin (whose other routes are CORS-enabled)", async () => {
      const origin = "https://app.example";
      const withCors = await startServer({ dialect, allowedOrigins: origin });
      try {
        const other = await withCors.auth.createClient("svc", { actor: "cli" });
        const user = await withCors.api.register();
        const preflight = (path: string) =>
          fetch(`${withCors.url}${path}`, {
            method: "OPTIONS",
            headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
          });
        // The control: an ordinary route answers the allowed origin.
        assert.equal((await preflight("/login")).headers.get("access-control-allow-origin"), origin);
        assert.equal((await preflight("/introspect")).headers.get("access-control-allow-origin"), null);
        const answer = await introspectAt(withCors.url, `token=${user.access}`, {
          authorization: basic(other.clientId, other.clientSecret),
          origin,
        });
        assert.equal(answer.status, 200, answer.text);
        assert.equal(answer.headers.get("access-control-allow-origin"), null);
        assert.equal(answer.headers.get("access-control-allow-credentials"), null);
      } finally {
        await withCors.close();
      }
    });

    test("a deleted client is refused at once", async () => {
      const other = await server.auth.createClient("temporary", { actor: "cli" });
      const user = await server.api.register();
      assert.equal((await introspect(user.access, { authorization: basic(other.clientId, other.clientSecret) })).status, 200);
      await server.auth.deleteClient(other.clientId, { actor: "cli" });
      assert.equal((await introspect(user.access, { authorization: basic(other.clientId, other.clientSecret) })).status, 401);
      await assert.rejects(server.auth.deleteClient(other.clientId), (e: { code?: string }) => e.code === "not_found");
    });

    test("the Express guard serves the same endpoint (form body, Basic client)", async () => {
      const app = express();
      app.use(tokenver({ auth: server.auth }));
      app.use(problemHandler);
      const listening = await listenExpress(app);
      try {
        const user = await server.api.register();
        const active = await introspectAt(listening.url, `token=${user.access}`, {
          authorization: basic(client.clientId, client.clientSecret, encodeAll),
        });
        assert.equal(active.status, 200, active.text);
        assert.equal(active.body.active, true);
        assert.equal(active.headers.get("cache-control"), "no-store");
        const refresh = await introspectAt(listening.url, `token=${encodeURIComponent(user.refresh)}`, { authorization: auth });
        assert.equal(refresh.text, '{"active":false}');
        const bad = await introspectAt(listening.url, `token=${user.access}`, {});
        assert.equal(bad.status, 401);
        assert.equal(bad.headers.get("www-authenticate"), 'Basic realm="tokenver"');
        const jwks = await fetch(`${listening.url}/.well-known/jwks.json`);
        assert.equal(jwks.status, 200);
        assert.equal(jwks.headers.get("cache-control"), "public, max-age=300");
        assert.equal(jwks.headers.get("pragma"), null);
      } finally {
        await listening.close();
      }
    });
  });
}
