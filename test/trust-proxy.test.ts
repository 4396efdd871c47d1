import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { createAuth, type Auth } from "../src/create-auth.js";
import { buildServer } from "../src/server.js";
import { ConfigError, configFromEnv } from "../src/settings/env.js";
import { OptionError, resolveOptions, resolveTrustProxy } from "../src/settings/resolve.js";
import { Api, TEST_SECRET, uniqueEmail } from "./support/server.js";

// trustProxy is a setting of the built-in server: TOKENVER_TRUST_PROXY reaches buildServer() the
// way the CLI passes it, and createAuth() no longer has the option.
describe("TOKENVER_TRUST_PROXY", () => {
  test("its forms: unset/false, true (one hop), a hop count, proxy addresses/CIDRs", () => {
    const trust = (value: string) => configFromEnv({ TOKENVER_TRUST_PROXY: value }).trustProxy;
    assert.equal(configFromEnv({}).trustProxy, false);
    assert.equal(trust("false"), false);
    assert.equal(trust("off"), false);
    assert.equal(trust("true"), 1, "true trusts one hop, never every hop");
    assert.equal(trust("yes"), 1);
    assert.equal(trust("3"), 3);
    assert.equal(trust("16"), 16);
    assert.equal(trust(" 10.0.0.1, 10.1.0.0/16 "), "10.0.0.1, 10.1.0.0/16");
    assert.equal(trust("::1"), "::1");
    assert.equal("trustProxy" in configFromEnv({ TOKENVER_TRUST_PROXY: "true" }).auth, false, "not a createAuth() option");
  });

  test("a value of none of its forms is refused, naming the variable and the forms", () => {
    for (const [value, message] of [
      ["maybe", "TOKENVER_TRUST_PROXY: must be true, false, a hop count or proxy addresses"],
      ["0", "TOKENVER_TRUST_PROXY: must be a boolean, a hop count from 1 to 16, or proxy addresses/CIDRs"],
      ["17", "TOKENVER_TRUST_PROXY: must be a boolean, a hop count from 1 to 16, or proxy addresses/CIDRs"],
    ] as const) {
      assert.throws(
        () => configFromEnv({ TOKENVER_TRUST_PROXY: value }),
        (e: unknown) => e instanceof ConfigError && e.message === message,
      );
    }
  });

  test("resolveTrustProxy() checks a programmatic value the same way", () => {
    assert.equal(resolveTrustProxy(undefined), false);
    assert.equal(resolveTrustProxy(true), 1);
    assert.equal(resolveTrustProxy(2), 2);
    assert.equal(resolveTrustProxy("10.0.0.0/8"), "10.0.0.0/8");
    for (const bad of [0, 17, 1.5, "proxy.example"]) {
      assert.throws(
        () => resolveTrustProxy(bad),
        (e: unknown) => e instanceof OptionError && e.option === "trustProxy" && /hop count from 1 to 16/.test(e.message),
        String(bad),
      );
    }
    // A server setting, not a createAuth() option: the library refuses it by name (docs/library.md).
    assert.throws(() => resolveOptions({ trustProxy: true } as never), /trustProxy is not an option of createAuth\(\)/);
  });
});

// TOKENVER_TRUST_PROXY=true trusts one hop: the address our proxy appended. A client that writes
// its own X-Forwarded-For entries cannot pick the address its failures are counted against.
describe("trustProxy: true trusts only the nearest proxy", () => {
  let auth: Auth;
  let app: FastifyInstance;
  let api: Api;
  before(async () => {
    auth = await createAuth({
      secret: TEST_SECRET,
      databaseUrl: "sqlite::memory:",
      rateLimit: { addressFailures: 2, accountFailures: 100 },
    });
    const { trustProxy } = configFromEnv({ TOKENVER_TRUST_PROXY: "true" });
    app = await buildServer(auth, { trustProxy });
    await app.listen({ port: 0, host: "127.0.0.1" });
    api = new Api(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
  });
  after(async () => {
    await app.close();
    await auth.close();
  });

  const failWith = (forwarded: string) =>
    api.request("POST", "/login", {
      body: { email: uniqueEmail(), password: "not the password at all" },
      headers: { "x-forwarded-for": forwarded },
    });

  test("forged leading entries do not give a fresh address", async () => {
    assert.equal((await failWith("6.6.6.6, 10.0.0.7")).status, 401);
    assert.equal((await failWith("5.5.5.5, 10.0.0.7")).status, 401);
    const third = await failWith("4.4.4.4, 10.0.0.7");
    assert.equal(third.status, 429, "all three came from 10.0.0.7, as the proxy said");
    assert.equal(third.body.code, "rate_limited");
    assert.equal((await failWith("10.0.0.8")).status, 401, "another client behind the proxy is unaffected");
  });
});
