// src/store/database.ts: a store tokenver opens is closed whole by close(), whatever ran on it.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { openStore } from "../../../src/store/database.js";

const dir = mkdtempSync(join(tmpdir(), "tokenver-database-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("openStore (SQLite)", () => {
  for (const exclusive of [false, true]) {
    test(`close() closes the connection when nothing ran through Kysely (it takes it on first use) (exclusive: ${exclusive})`, async () => {
      const file = join(dir, `unused-${exclusive}.db`);
      const store = await openStore(`sqlite:${file}`, { exclusive });
      // A write on the connection itself (as migrations and the revocation cache's statements run).
      store.sqlite!.exec("create table probe (x)");
      assert.ok(existsSync(`${file}-wal`), "WAL mode: the write is in the log while the connection is open");
      await store.close();
      assert.equal(store.sqlite!.open, false);
      // The last connection to close checkpoints and removes the log: none is left open.
      assert.equal(existsSync(`${file}-wal`), false);
    });
  }
});
