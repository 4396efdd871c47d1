import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, configFromEnv } from "../src/settings/env.js";
import { envOfOption, SETTINGS, type Setting } from "../src/settings/table.js";
import { OptionError, resolveOptions } from "../src/settings/resolve.js";

const rows = SETTINGS as readonly Setting[];

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

describe("createAuth() options, checked by the settings table", () => {
  const refuses = (options: object, message: string) =>
    assert.throws(() => resolveOptions(options as never), { name: "TypeError", message }, message);

  test("defaults", () => {
    const resolved = resolveOptions({});
    assert.equal(resolved.databaseUrl, "sqlite:./data/tokenver.db");
    assert.equal(resolved.redisUrl, undefined);
    assert.equal(resolved.secret, undefined);
    assert.equal(resolved.accessTtl, 900);
    assert.equal(resolved.refreshTtl, 1_209_600);
    assert.equal(resolved.issuer, "tokenver");
    assert.equal(resolved.clockTolerance, 5);
    assert.deepEqual(resolved.rateLimit, {
      accountFailures: 10,
      addressFailures: 100,
      windowSeconds: 900,
      registrations: 20,
      addressLogins: 300,
    });
    assert.equal(resolved.pruneInterval, 0, "the library leaves pruning to the application");
    assert.equal(resolved.redisPrefix, "tokenver:");
    assert.equal(resolved.redisEntryTtl, 60);
    assert.equal(resolved.localCache, undefined);
    assert.deepEqual(resolved.userFields, {});
    assert.equal(resolved.sqliteLock, true);
    assert.equal(resolved.migrate, true);
    assert.equal(typeof resolved.onWarning, "function");
    assert.equal(typeof resolved.clock(), "number");
    assert.equal("trustProxy" in resolved, false, "trustProxy is a setting of the built-in server only");
  });

  test("every option of the table is resolved, and nothing else", () => {
    const expected = new Set(rows.flatMap((s) => (s.option === undefined ? [] : [s.option.split(".")[0]!])));
    assert.deepEqual(new Set(Object.keys(resolveOptions({}))), expected);
  });

  test("the messages name the option and its range", () => {
    refuses(null as never, "tokenver: options must be an object");
    refuses({ accessTtl: 0 }, "tokenver: accessTtl must be an integer from 1 to 86400");
    refuses({ refreshTtl: 59 }, "tokenver: refreshTtl must be an integer from 60 to 31536000");
    refuses({ accessTtl: 600, refreshTtl: 300 }, "tokenver: refreshTtl must not be shorter than accessTtl");
    refuses({ clockTolerance: 301 }, "tokenver: clockTolerance must be an integer from 0 to 300");
    refuses({ pruneInterval: -1 }, "tokenver: pruneInterval must be an integer from 0 to 604800");
    refuses({ redisEntryTtl: 1.5 }, "tokenver: redisEntryTtl must be an integer from 1 to 86400");
    refuses({ rateLimit: { accountFailures: 0 } }, "tokenver: rateLimit.accountFailures must be an integer from 1 to 1000000");
    refuses({ rateLimit: { windowSeconds: 86_401 } }, "tokenver: rateLimit.windowSeconds must be an integer from 1 to 86400");
    refuses({ rateLimit: 5 }, "tokenver: rateLimit must be an object");
    refuses({ databaseUrl: "mysql://x" }, "tokenver: databaseUrl must be sqlite:<path>, sqlite::memory: or postgres://...");
    refuses({ databaseUrl: 5 }, "tokenver: databaseUrl must be a string");
    refuses({ redisUrl: "http://x" }, "tokenver: redisUrl must be redis://... or rediss://...");
    refuses({ secret: "short" }, "tokenver: secret must be at least 32 bytes");
    refuses({ issuer: "" }, "tokenver: issuer must not be empty");
    refuses({ redisPrefix: 1 }, "tokenver: redisPrefix must be a string");
    refuses({ localCache: "yes" }, "tokenver: localCache must be a boolean");
    refuses({ sqliteLock: 1 }, "tokenver: sqliteLock must be a boolean");
    refuses({ userFields: [] }, "tokenver: userFields must be an object of TypeBox schemas");
    refuses({ userFields: { email: {} } }, "tokenver: userFields.email is a reserved user field");
    refuses({ userFields: { company: "string" } }, "tokenver: userFields.company must be a TypeBox schema");
    refuses({ onWarning: "log" }, "tokenver: onWarning must be a function");
    refuses({ clock: 0 }, "tokenver: clock must be a function");
  });

  test("given values pass through; null groups count as unset, as before", () => {
    const resolved = resolveOptions({
      accessTtl: 60,
      refreshTtl: 60,
      rateLimit: { addressFailures: 3 },
      pruneInterval: 0,
      localCache: true,
    });
    assert.equal(resolved.accessTtl, 60);
    assert.deepEqual(resolved.rateLimit, {
      accountFailures: 10,
      addressFailures: 3,
      windowSeconds: 900,
      registrations: 20,
      addressLogins: 300,
    });
    assert.equal(resolved.localCache, true);
    assert.deepEqual(resolveOptions({ rateLimit: null as never, userFields: null as never }).rateLimit.windowSeconds, 900);
  });
});

describe("the environment of tokenver serve", () => {
  test("server settings and their defaults; pruning is hourly unless set", () => {
    const config = configFromEnv({});
    assert.deepEqual(config, {
      port: 3000,
      host: "127.0.0.1",
      logLevel: "info",
      trustProxy: false,
      requestTimeout: 30,
      keepAliveTimeout: 5,
      maxConnections: 512,
      metricsPort: undefined,
      metricsHost: "127.0.0.1",
      shutdownTimeout: 10,
      auth: { pruneInterval: 3600 },
    });
    assert.equal(configFromEnv({ TOKENVER_PRUNE_INTERVAL: "0" }).auth.pruneInterval, 0);
    assert.equal(configFromEnv({ TOKENVER_METRICS_PORT: "9464" }).metricsPort, 9464);
    assert.throws(() => configFromEnv({ TOKENVER_METRICS_PORT: "65536" }), /^Error: TOKENVER_METRICS_PORT: must be a port number/);
    assert.throws(() => configFromEnv({ TOKENVER_SHUTDOWN_TIMEOUT: "-1" }), /^Error: TOKENVER_SHUTDOWN_TIMEOUT: must be a whole number/);
  });

  test("each variable reaches its option, typed", () => {
    const config = configFromEnv({
      PORT: "8080",
      HOST: "0.0.0.0",
      TOKENVER_LOG_LEVEL: "warn",
      TOKENVER_DATABASE_URL: "sqlite::memory:",
      TOKENVER_REDIS_URL: "redis://cache:6379",
      TOKENVER_REDIS_PREFIX: "app:",
      TOKENVER_REDIS_ENTRY_TTL: "30",
      TOKENVER_SECRET: "x".repeat(32),
      TOKENVER_ACCESS_TTL: " 600 ",
      TOKENVER_REFRESH_TTL: "7200",
      TOKENVER_ISSUER: "me",
      TOKENVER_CLOCK_TOLERANCE: "0",
      TOKENVER_RATE_LIMIT_ACCOUNT: "5",
      TOKENVER_RATE_LIMIT_WINDOW: "60",
      TOKENVER_TRUST_PROXY: "",
    });
    assert.equal(config.port, 8080);
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.logLevel, "warn");
    assert.equal(config.trustProxy, false, "empty is unset");
    assert.deepEqual(config.auth, {
      databaseUrl: "sqlite::memory:",
      redisUrl: "redis://cache:6379",
      redisPrefix: "app:",
      redisEntryTtl: 30,
      secret: "x".repeat(32),
      accessTtl: 600,
      refreshTtl: 7200,
      issuer: "me",
      clockTolerance: 0,
      rateLimit: { accountFailures: 5, windowSeconds: 60 },
      pruneInterval: 3600,
    });
  });

  test("a bad variable is named with what it takes, never with its value", () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ PORT: "http" }, "PORT: must be a whole number"],
      [{ PORT: "65536" }, "PORT: must be a port number from 0 to 65535"],
      [{ TOKENVER_LOG_LEVEL: "loud" }, "TOKENVER_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent"],
      [{ TOKENVER_ACCESS_TTL: "15m" }, "TOKENVER_ACCESS_TTL: must be a whole number"],
      [{ TOKENVER_RATE_LIMIT_ADDRESS: "-1" }, "TOKENVER_RATE_LIMIT_ADDRESS: must be a whole number"],
      [{ TOKENVER_LOCAL_CACHE: "sometimes" }, "TOKENVER_LOCAL_CACHE: must be true or false"],
      [{ TOKENVER_TRUST_PROXY: "maybe" }, "TOKENVER_TRUST_PROXY: must be true, false, a hop count or proxy addresses"],
    ];
    for (const [env, message] of cases) {
      assert.throws(
        () => configFromEnv(env),
        (error: unknown) => error instanceof ConfigError && error.message === message && error.setting === Object.keys(env)[0],
        message,
      );
      for (const value of Object.values(env)) {
        try {
          configFromEnv(env);
        } catch (error) {
          assert.ok(!(error as Error).message.includes(value), `${message} does not echo the value`);
        }
      }
    }
  });

  test("ranges of createAuth() options are left to createAuth(), which the CLI maps back to the variable", () => {
    assert.equal(configFromEnv({ TOKENVER_ACCESS_TTL: "0" }).auth.accessTtl, 0);
    assert.equal(envOfOption("accessTtl"), "TOKENVER_ACCESS_TTL");
    assert.equal(envOfOption("rateLimit.windowSeconds"), "TOKENVER_RATE_LIMIT_WINDOW");
    assert.equal(envOfOption("databaseUrl"), "TOKENVER_DATABASE_URL");
    assert.equal(envOfOption("trustProxy"), "TOKENVER_TRUST_PROXY");
    assert.equal(envOfOption("userFields"), undefined, "library only");
  });
});

describe("the settings table", () => {
  test("each row has a place: an option, a server setting, or both an env var and an option", () => {
    for (const row of rows) {
      assert.ok(row.option !== undefined || (row.serverOption !== undefined && row.env !== undefined), JSON.stringify(row));
      assert.ok(!(row.option !== undefined && row.serverOption !== undefined), `${row.option}: one place`);
      assert.ok(row.doc.length > 0 && !row.doc.includes("|") && !row.doc.includes("\n"), `${row.env ?? row.option}: one line`);
    }
    const envs = rows.flatMap((r) => (r.env ? [r.env] : []));
    assert.equal(new Set(envs).size, envs.length, "each variable once");
  });

  test("every default is valid by its own row", () => {
    for (const row of rows) {
      if (row.kind.type !== "integer") continue;
      for (const value of [row.default, row.serverDefault]) {
        if (value === undefined) continue;
        assert.ok(typeof value === "number" && value >= row.kind.min && value <= row.kind.max, `${row.env ?? row.option}: ${value}`);
      }
    }
  });
});
