import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createAuth } from "../src/create-auth.js";
import { OptionError } from "../src/settings/resolve.js";
import { createTestDatabase, POSTGRES_URL } from "./support/databases.js";
import { runCli } from "./support/process.js";
import { TEST_SECRET } from "./support/server.js";

// Issue 19: TOKENVER_LOCAL_CACHE=true with PostgreSQL and no Redis was accepted, and silently broke
// revocation across nodes (each node answered from its own copy and never heard of the others'
// revocations). Start-up now refuses it, naming the setting, before connecting anything.

// Nothing listens there: the refusal must come before any connection is tried.
const UNREACHABLE_POSTGRES = "postgres://tokenver@127.0.0.1:1/tokenver";

describe("localCache on PostgreSQL without Redis", () => {
  test("createAuth refuses it with an OptionError naming localCache, saying why and what to set instead", async () => {
    const started = performance.now();
    await assert.rejects(createAuth({ databaseUrl: UNREACHABLE_POSTGRES, secret: TEST_SECRET, localCache: true }), (error: unknown) => {
      assert.ok(error instanceof OptionError, String(error));
      assert.equal(error.option, "localCache");
      assert.match(error.message, /^tokenver: localCache /);
      assert.doesNotMatch(error.message, /\n/, "one line");
      assert.match(error.message, /PostgreSQL/);
      assert.match(error.message, /revocation/, "why");
      assert.match(error.message, /Redis/, "what to set instead: Redis");
      assert.match(error.message, /false/, "or the cache off");
      return true;
    });
    assert.ok(performance.now() - started < 1000, "refused before trying to connect");
  });

  test("the CLI names TOKENVER_LOCAL_CACHE in one line and exits non-zero", async () => {
    const { code, stdout, stderr } = await runCli(["serve"], {
      TOKENVER_DATABASE_URL: UNREACHABLE_POSTGRES,
      TOKENVER_LOCAL_CACHE: "true",
      TOKENVER_SECRET: TEST_SECRET,
      HOST: "127.0.0.1",
      PORT: "0",
    });
    assert.equal(code, 1, stderr);
    assert.equal(stdout, "");
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, /^tokenver: invalid configuration: TOKENVER_LOCAL_CACHE: cannot be true with PostgreSQL and no Redis/);
    assert.match(lines[0]!, /TOKENVER_REDIS_URL/);
  });

  test("the combinations that keep the rule still start", async () => {
    // SQLite: one process owns the file, so its cache is exact.
    const sqlite = await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET, localCache: true });
    await sqlite.close();
    // localCache unset on SQLite (the default) is the same.
    const defaults = await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET });
    await defaults.close();
  });

  test(
    "PostgreSQL without Redis starts with localCache false or unset",
    { skip: POSTGRES_URL ? false : "TOKENVER_TEST_DATABASE_URL is not set" },
    async () => {
      const database = await createTestDatabase("postgres");
      try {
        for (const localCache of [false, undefined]) {
          const auth = await createAuth({
            databaseUrl: database.url,
            secret: TEST_SECRET,
            ...(localCache === undefined ? {} : { localCache }),
          });
          await auth.close();
        }
      } finally {
        await database.drop();
      }
    },
  );
});
