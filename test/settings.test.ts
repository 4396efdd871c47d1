import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, configFromEnv } from "../src/config.js";
import { OptionError, resolveOptions } from "../src/settings.js";

// The node-cache settings: environment variables reach createAuth() options, and bad values stop
// start-up naming the setting.
describe("node cache settings", () => {
  test("TOKENVER_REDIS_NODE_LEASE and TOKENVER_LOCAL_CACHE reach the options", () => {
    const config = configFromEnv({ TOKENVER_REDIS_NODE_LEASE: "2", TOKENVER_LOCAL_CACHE: "false" });
    assert.equal(config.auth.redisNodeLease, 2);
    assert.equal(config.auth.localCache, false);
    assert.equal(configFromEnv({ TOKENVER_LOCAL_CACHE: "on" }).auth.localCache, true);
    assert.equal(configFromEnv({}).auth.localCache, undefined, "unset: the store decides");
  });

  test("a lease defaults to 5 s and must be a whole number of seconds from 1 to 60", () => {
    assert.equal(resolveOptions({}).redisNodeLease, 5);
    for (const bad of [0, 61, 1.5, "5"]) {
      assert.throws(
        () => resolveOptions({ redisNodeLease: bad as never }),
        (error: unknown) => error instanceof OptionError && error.option === "redisNodeLease",
        String(bad),
      );
    }
    assert.throws(() => configFromEnv({ TOKENVER_REDIS_NODE_LEASE: "soon" }), ConfigError);
    assert.throws(() => configFromEnv({ TOKENVER_LOCAL_CACHE: "maybe" }), ConfigError);
  });
});
