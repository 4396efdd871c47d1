// src/store/sqlite-checkpointer.ts: the server's SQLite file is checkpointed on a thread of its own,
// never in a commit on the main thread; SQLite's own checkpoints come back if that thread is gone.
// Witnessed through the file itself: pages reach the database file only through a checkpoint.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, test } from "node:test";
import { openStore, type Store } from "../../../src/store/database.js";
import {
  CHECKPOINT_INTERVAL_MS,
  FALLBACK_WARNING,
  SAFETY_AUTOCHECKPOINT_PAGES,
  SqliteCheckpointer,
} from "../../../src/store/sqlite-checkpointer.js";

const dir = mkdtempSync(join(tmpdir(), "tokenver-checkpointer-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const autocheckpoint = (store: Store) => store.sqlite!.pragma("wal_autocheckpoint", { simple: true });
/** 300 rows of 4 KiB: about 300 pages, each only in the log until a checkpoint copies it to the file. */
function writePages(store: Store): void {
  store.sqlite!.exec("create table if not exists probe (body blob)");
  const insert = store.sqlite!.prepare("insert into probe (body) values (randomblob(4096))");
  store.sqlite!.transaction(() => {
    for (let i = 0; i < 300; i++) insert.run();
  })();
}

describe("SqliteCheckpointer", () => {
  test("the server's connection leaves the checkpoints to the thread, which copies committed pages into the file", async () => {
    const file = join(dir, "served.db");
    const store = await openStore(`sqlite:${file}`, { exclusive: true });
    try {
      assert.ok(store.checkpointer, "a served file has a checkpointing thread");
      await store.checkpointer.ready();
      assert.equal(autocheckpoint(store), SAFETY_AUTOCHECKPOINT_PAGES);
      const before = statSync(file).size;
      writePages(store);
      // What external-writes.ts reads to notice another process's commit: a checkpoint is none.
      const dataVersion = store.sqlite!.pragma("data_version", { simple: true });
      const deadline = Date.now() + 50 * CHECKPOINT_INTERVAL_MS;
      while (statSync(file).size < before + 300 * 4096 && Date.now() < deadline) await sleep(CHECKPOINT_INTERVAL_MS / 4);
      assert.ok(statSync(file).size >= before + 300 * 4096, "the thread's checkpoint copied the pages into the file");
      assert.equal(store.sqlite!.pragma("data_version", { simple: true }), dataVersion);
    } finally {
      await store.close();
    }
    // The thread's connection closed first: the last one to close checkpointed and removed the log.
    assert.equal(existsSync(`${file}-wal`), false);
  });

  test("a thread that cannot open the file gives the checkpoints back to the connection (SQLite's default, 1,000 pages)", async () => {
    const store = await openStore(`sqlite:${join(dir, "fallback.db")}`);
    try {
      const warnings: string[] = [];
      const checkpointer = SqliteCheckpointer.start(store.sqlite!, join(dir, "missing", "nothing.db"), (m) => warnings.push(m))!;
      assert.equal(autocheckpoint(store), SAFETY_AUTOCHECKPOINT_PAGES);
      await assert.rejects(checkpointer.ready());
      // The exit handler runs on the turn the thread ends.
      for (let i = 0; i < 50 && autocheckpoint(store) !== 1000; i++) await sleep(10);
      assert.equal(autocheckpoint(store), 1000);
      // Said once, without the file's path.
      assert.deepEqual(warnings, [FALLBACK_WARNING]);
      await checkpointer.stop();
      assert.equal(warnings.length, 1);
    } finally {
      await store.close();
    }
  });

  test("under steady commits the log stays bounded: the thread's checkpoints are overtaken, the connection's own at the bound starts it over", async () => {
    const file = join(dir, "steady.db");
    const store = await openStore(`sqlite:${file}`, { exclusive: true });
    try {
      await store.checkpointer!.ready();
      const sqlite = store.sqlite!;
      sqlite.exec("create table probe (body blob)");
      const insert = sqlite.prepare("insert into probe (body) values (randomblob(4000))");
      const commit = sqlite.transaction(() => {
        for (let i = 0; i < 12; i++) insert.run();
      });
      // About 48 MB of pages, committed one transaction at a time while the thread checkpoints.
      let largest = 0;
      for (let i = 0; i < 1000; i++) {
        commit();
        if (i % 50 === 0) {
          largest = Math.max(largest, statSync(`${file}-wal`).size);
          await sleep(1);
        }
      }
      largest = Math.max(largest, statSync(`${file}-wal`).size);
      assert.ok(largest < (SAFETY_AUTOCHECKPOINT_PAGES + 1000) * 4096 * 1.1, `the log reached ${largest} bytes`);
    } finally {
      await store.close();
    }
  });

  test("a command beside the server (no lock on the file) has no thread and keeps SQLite's own checkpoints", async () => {
    const store = await openStore(`sqlite:${join(dir, "beside.db")}`, { exclusive: false });
    try {
      assert.equal(store.checkpointer, undefined);
      assert.equal(autocheckpoint(store), 1000);
    } finally {
      await store.close();
    }
  });
});
