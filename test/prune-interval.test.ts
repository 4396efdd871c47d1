import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import SQLite from "better-sqlite3";
import { createAuth } from "../src/create-auth.js";
import { TEST_SECRET } from "./support/server.js";

test("pruneInterval deletes expired sessions periodically, and close() stops it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tokenver-prune-"));
  let now = Date.now();
  const auth = await createAuth({
    databaseUrl: `sqlite:${join(dir, "p.db")}`,
    secret: TEST_SECRET,
    refreshTtl: 3600,
    pruneInterval: 1,
    clock: () => now,
  });
  const count = () => {
    const db = new SQLite(join(dir, "p.db"), { readonly: true });
    try {
      return (db.prepare("select count(*) as n from sessions").get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  try {
    await auth.register({ email: "old@example.com", password: "a long and unguessable passphrase" });
    await sleep(1500);
    assert.equal(count(), 1, "a live session survives a prune run");
    now += 3601 * 1000;
    const deadline = Date.now() + 5000;
    while (count() !== 0 && Date.now() < deadline) await sleep(200);
    assert.equal(count(), 0, "the expired session was pruned without anyone calling prune()");
  } finally {
    await auth.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
