// Introspection (src/core/clients/introspect.ts) over the real core and a real SQLite store in memory
// (test/support/sqlite-core.ts): the client's authentication and its throttles, what an active
// answer holds, and what is exactly {active: false} or an error. `verify` is the real one, except
// where a test hands in one that throws or answers odd claims (what the store cannot produce).
// test/keys/introspection.test.ts drives the endpoint over HTTP.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { basicCredentials, introspect } from "../../../../src/core/clients/introspect.js";
import { createClient } from "../../../../src/core/clients/create-client.js";
import type { Core } from "../../../../src/core/context.js";
import { AuthError, unavailable } from "../../../../src/core/errors.js";
import { revokeSession } from "../../../../src/core/sessions/manage.js";
import { INTROSPECTIONS_PER_MINUTE } from "../../../../src/core/throttle.js";
import type { Principal } from "../../../../src/core/types.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

let world: SqliteCore;
let client: { clientId: string; clientSecret: string };
let auth: string;
beforeEach(async () => {
  world = await sqliteCore();
  client = await createClient(world.core, "billing");
  auth = basic(client.clientId, client.clientSecret);
});
afterEach(() => world.close());

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
}
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8"));
/** `verify` as the facade hands it in: the whole Authorization header. */
const verify = (authorization: string) => world.verify(authorization.replace(/^Bearer /, ""));

async function rejectsWith(promise: Promise<unknown>, code: string, message?: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AuthError, String(error));
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.equal(error.message, message);
    return true;
  });
}

describe("introspect", () => {
  test("an active token: exactly its claims, and token_type Bearer", async () => {
    const userId = await world.addUser();
    const { accessToken } = await world.signIn(userId);
    const claims = claimsOf(accessToken);
    const answer = await introspect(world.core, verify, { authorization: auth, token: accessToken });
    assert.deepEqual(answer, {
      active: true,
      sub: claims.sub,
      sid: claims.sid,
      token_version: claims.token_version,
      iss: claims.iss,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      amr: ["pwd"],
      token_type: "Bearer",
    });
  });

  test("claims without a list of strings as amr are answered as amr pwd", async () => {
    const userId = await world.addUser();
    const { principal, accessToken } = await world.signIn(userId);
    for (const amr of [undefined, "otp", ["pwd", 1], [null]]) {
      const odd = async (): Promise<Principal> => ({ ...principal, claims: { ...principal.claims, amr } as Principal["claims"] });
      const answer = await introspect(world.core, odd, { authorization: auth, token: accessToken });
      assert.equal(answer.active, true);
      assert.deepEqual(answer.active && answer.amr, ["pwd"], JSON.stringify(amr));
    }
    const mfa = async (): Promise<Principal> => ({ ...principal, claims: { ...principal.claims, amr: ["pwd", "otp", "mfa"] } });
    const answer = await introspect(world.core, mfa, { authorization: auth, token: accessToken });
    assert.deepEqual(answer.active && answer.amr, ["pwd", "otp", "mfa"]);
  });

  test("exactly {active: false}: not a string, empty, any whitespace in it, garbage, revoked", async () => {
    const userId = await world.addUser();
    const { accessToken, principal } = await world.signIn(userId);
    for (const token of [undefined, 42, ["x"], "", ` ${accessToken}`, `${accessToken}\n`, `${accessToken} x`, "not-a-token"]) {
      assert.deepEqual(await introspect(world.core, verify, { authorization: auth, token }), { active: false }, JSON.stringify(token));
    }
    assert.equal((await introspect(world.core, verify, { authorization: auth, token: accessToken })).active, true);
    await revokeSession(world.core, principal, principal.sessionId);
    assert.deepEqual(await introspect(world.core, verify, { authorization: auth, token: accessToken }), { active: false });
  });

  test("a store that does not answer is 503, and any other failure stays an error: never {active: false}", async () => {
    const down = async (): Promise<Principal> => {
      throw unavailable(new Error("the database is gone"));
    };
    await rejectsWith(introspect(world.core, down, { authorization: auth, token: "x.y.z" }), "service_unavailable");
    const bug = new TypeError("a bug");
    const broken = async (): Promise<Principal> => {
      throw bug;
    };
    await assert.rejects(introspect(world.core, broken, { authorization: auth, token: "x.y.z" }), (error) => error === bug);
  });

  test("each request of a client counts: beyond its budget, 429", async () => {
    for (let i = 0; i < INTROSPECTIONS_PER_MINUTE; i++) await world.core.throttle.countIntrospection(client.clientId);
    await rejectsWith(introspect(world.core, verify, { authorization: auth, token: "x" }), "rate_limited");
  });
});

describe("the client", () => {
  const INVALID = "A valid service client is required (HTTP Basic).";

  test("missing, malformed, unknown or wrong: 401 invalid_client, with its detail", async () => {
    for (const authorization of [
      undefined,
      "Basic !!!",
      basic("tvc_unknown", client.clientSecret),
      basic(client.clientId, `${client.clientSecret}x`),
      // The hash an unknown id is compared against never authenticates anyone.
      basic("tvc_unknown", "tokenver: no such client"),
    ]) {
      await rejectsWith(introspect(world.core, verify, { authorization, token: "x" }), "invalid_client", INVALID);
    }
  });

  test("wrong credentials count against the address: addressFailures of them, then 429", async () => {
    const core: Core = world.core;
    const limit = core.config.rateLimit.addressFailures;
    const wrong = basic(client.clientId, "not the secret");
    for (let i = 0; i < limit; i++) {
      await rejectsWith(introspect(core, verify, { authorization: wrong, token: "x" }, { ip: "192.0.2.9" }), "invalid_client");
    }
    await rejectsWith(introspect(core, verify, { authorization: wrong, token: "x" }, { ip: "192.0.2.9" }), "rate_limited");
    // Another address, and the right client from this one, are not affected.
    await rejectsWith(introspect(core, verify, { authorization: wrong, token: "x" }, { ip: "192.0.2.10" }), "invalid_client");
    assert.deepEqual(await introspect(core, verify, { authorization: auth, token: "x" }, { ip: "192.0.2.9" }), { active: false });
  });

  test("basicCredentials: an id of 64 characters and a secret of 512 are the longest accepted", () => {
    const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
    assert.deepEqual(basicCredentials(`Basic ${b64(`${"i".repeat(64)}:s`)}`), { id: "i".repeat(64), secret: "s" });
    assert.deepEqual(basicCredentials(`Basic ${b64(`id:${"s".repeat(512)}`)}`), { id: "id", secret: "s".repeat(512) });
    assert.equal(basicCredentials(`Basic ${b64(`id:${"s".repeat(513)}`)}`), undefined);
  });

  test("basicCredentials: the whole header is one Basic credential, nothing before or after it", () => {
    const credential = Buffer.from(`${client.clientId}:${client.clientSecret}`).toString("base64");
    assert.deepEqual(basicCredentials(`Basic ${credential}  `), { id: client.clientId, secret: client.clientSecret });
    for (const header of [
      `NotBasic ${credential}`,
      `Bearer x, Basic ${credential}`,
      `Basic ${credential}, Bearer x`,
      `Basic ${credential}!`,
    ]) {
      assert.equal(basicCredentials(header), undefined, header);
    }
  });
});
