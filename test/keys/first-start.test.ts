import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openStore } from "../../src/store/database.js";
import { migrateToLatest } from "../../src/store/migrations/index.js";
import { createTestDatabase, dialects } from "../support/databases.js";
import { runCli } from "../support/process.js";
import { TEST_SECRET } from "../support/server.js";

// docs/api.md section 7: keys are generated on first start under a database lock: processes that
// start at once on an empty database end with one key (each generates one; one is kept).
for (const dialect of dialects()) {
  test(`three processes starting at once on an empty database end with one key (${dialect})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "tokenver-keys-first-"));
    const database = await createTestDatabase(dialect, join(dir, "first.db"));
    try {
      // The tables first (concurrent first migrations are another matter): the processes race for the keys only.
      const store = await openStore(database.url, { exclusive: false });
      await migrateToLatest(store.db);
      await store.close();
      const env = { TOKENVER_DATABASE_URL: database.url, TOKENVER_SECRET: TEST_SECRET, TOKENVER_SIGNING_ALG: "RS256" };
      // `migrate` opens the service (and so its keys) beside others, without the SQLite file lock.
      const started = await Promise.all([1, 2, 3].map(() => runCli(["migrate"], env)));
      for (const run of started) assert.equal(run.code, 0, run.stderr);
      const listed = await runCli(["keys", "list"], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^tokenver: 1 key\n/);
      assert.match(listed.stdout, /RS256 {2}current/);
    } finally {
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
