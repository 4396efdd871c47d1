// What the facade's constructor wires (src/core/auth.ts): the guard against `new Auth`, the
// signer over the secret alone or the key ring, the metrics observer on verify and both sign-in
// steps, the start-up's key event, and the small getters (browser, profileSchema, jwks, metadata).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Type } from "typebox";
import { Auth } from "../../../../src/core/auth.js";
import { AuthError } from "../../../../src/core/errors.js";
import { Metrics } from "../../../../src/metrics/metrics.js";
import { DatabaseRevocationState } from "../../../../src/store/revocation/database-state.js";
import { authWorld, PASSWORD } from "./auth-world.js";

const bearer = (token: string) => `Bearer ${token}`;
const kidOf = (token: string): unknown => JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString("utf8")).kid;

test("the facade cannot be built without createAuth's token", () => {
  const Construct = Auth as unknown as new (token: symbol, parts: object) => unknown;
  assert.throws(() => new Construct(Symbol("tokenver.parts"), {}), {
    name: "TypeError",
    message: "tokenver: use createAuth() to create the auth service",
  });
});

test("without a key store the secret signs and verify accepts what it signed", async () => {
  const world = await authWorld();
  try {
    const { userId, accessToken } = await world.register();
    const principal = await world.auth.verify(bearer(accessToken));
    assert.equal(principal.userId, userId);
    assert.deepEqual(world.auth.jwks(), { keys: [] });
    await assert.rejects(world.auth.listKeys(), (e: unknown) => e instanceof AuthError && e.code === "forbidden");
    await assert.rejects(
      world.auth.rotateKey(),
      (e: unknown) => e instanceof AuthError && e.code === "forbidden" && /without a key store/.test(e.message),
    );
    await assert.rejects(world.auth.revokeKey("k1"), (e: unknown) => e instanceof AuthError && e.code === "forbidden");
    assert.equal(await world.auth.deliverWebhooks(), 0);
  } finally {
    await world.close();
  }
});

test("with a key store the ring signs (its kid) and jwks lists its public keys", async () => {
  const world = await authWorld({ keys: { alg: "EdDSA" } });
  try {
    const { accessToken } = await world.register();
    const [key] = await world.auth.listKeys();
    assert.equal(kidOf(accessToken), key!.kid);
    await world.auth.verify(bearer(accessToken));
    const jwks = world.auth.jwks();
    assert.deepEqual(jwks, world.keys!.ring.jwks());
    assert.deepEqual(
      jwks.keys.map((k) => k.kid),
      [key!.kid],
    );
  } finally {
    await world.close();
  }
});

test("with metrics, verify and both sign-in steps are counted", async () => {
  const metrics = new Metrics();
  const world = await authWorld({ metrics });
  try {
    assert.equal(world.auth.metrics, metrics);
    const { email, accessToken } = await world.register();
    await world.auth.verify(bearer(accessToken));
    await world.auth.login({ email, password: PASSWORD });
    await assert.rejects(world.auth.login({ email, password: "not the password at all" }));
    await assert.rejects(world.auth.loginMfa({ mfaToken: "nope", code: "123456" } as never));
    const text = await metrics.registry.metrics();
    assert.match(text, /tokenver_verify_total\{result="ok"\} 1\b/);
    assert.match(text, /tokenver_logins_total\{result="ok"\} 1\b/);
    assert.match(text, /tokenver_logins_total\{result="invalid_credentials"\} 1\b/);
    // The second step's failure is counted as a login too.
    assert.match(text, /tokenver_logins_total\{result="(?!ok|invalid_credentials)[a-z_]+"\} 1\b/);
    assert.match(text, /tokenver_password_hash_seconds_count [1-9]/);
  } finally {
    await world.close();
  }
});

test("without metrics the facade has none, and everything works", async () => {
  const world = await authWorld();
  try {
    assert.equal(world.auth.metrics, undefined);
    const { email } = await world.register();
    await world.auth.login({ email, password: PASSWORD });
  } finally {
    await world.close();
  }
});

test("a key changed at start-up is a key.rotated event by the system; the first key of a database is none", async () => {
  const changed = await authWorld({ keysStarted: { kid: "k-new", reason: "algorithm" } });
  const first = await authWorld({ keysStarted: { kid: "k-first", reason: "first" } });
  const none = await authWorld();
  try {
    assert.deepEqual(await changed.events("key.rotated"), [
      { type: "key.rotated", actor: "system", user_id: null, detail: { kid: "k-new", reason: "algorithm" } },
    ]);
    assert.deepEqual(await first.events("key.rotated"), []);
    assert.deepEqual(await none.events(), []);
  } finally {
    await Promise.all([changed.close(), first.close(), none.close()]);
  }
});

test("browser settings: the origins, the refresh TTL and the public path without trailing slashes, built once and frozen", async () => {
  const world = await authWorld({ config: { publicUrl: "https://auth.example/base/v1//", refreshTtl: 1234 } });
  const root = await authWorld({ config: { publicUrl: "https://auth.example" } });
  try {
    const browser = world.auth.browser;
    assert.deepEqual(browser, {
      allowedOrigins: ["https://auth.example", "https://app.example"],
      refreshTtl: 1234,
      publicPath: "/base/v1",
    });
    assert.ok(Object.isFrozen(browser));
    assert.equal(world.auth.browser, browser);
    assert.equal(root.auth.browser.publicPath, "");
  } finally {
    await Promise.all([world.close(), root.close()]);
  }
});

test("profileSchema is the custom fields' object schema", async () => {
  const world = await authWorld({ config: { userFields: { nickname: Type.String({ maxLength: 20 }) } } });
  try {
    assert.equal(world.auth.profileSchema.type, "object");
    assert.deepEqual(Object.keys(world.auth.profileSchema.properties), ["nickname"]);
  } finally {
    await world.close();
  }
});

test("serverMetadata names the issuer, the JWKS and introspection under the public URL", async () => {
  const world = await authWorld();
  try {
    assert.deepEqual(world.auth.serverMetadata(), {
      issuer: "tokenver-auth-unit",
      jwks_uri: "https://auth.example/base/.well-known/jwks.json",
      introspection_endpoint: "https://auth.example/base/introspect",
    });
  } finally {
    await world.close();
  }
});

test("register refuses with requireVerifiedEmail (signUp is the way), and signUp then issues no tokens", async () => {
  const world = await authWorld({ config: { requireVerifiedEmail: true } });
  try {
    await assert.rejects(world.auth.register({ email: "a@example.test", password: PASSWORD }), {
      name: "TypeError",
      message: "tokenver: with requireVerifiedEmail, registration issues no tokens: call auth.signUp()",
    });
    const signUp = await world.auth.signUp({ email: "b@example.test", password: PASSWORD });
    assert.equal(signUp.accessToken, undefined);
  } finally {
    await world.close();
  }
});

test("a revocation state that is no node cache reads user rows through (getUser sees a change at once)", async () => {
  const world = await authWorld({ revocation: (store) => new DatabaseRevocationState(store.db, store.sqlite) });
  try {
    const { accessToken } = await world.register();
    const principal = await world.auth.verify(bearer(accessToken));
    await world.auth.updateProfile(principal, { username: "first_name" });
    assert.equal((await world.auth.getUser(principal)).username, "first_name");
  } finally {
    await world.close();
  }
});
