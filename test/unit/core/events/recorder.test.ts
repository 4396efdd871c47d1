// src/core/events/recorder.ts over a real SQLite store in memory: `record()` queues and never
// waits, a flush scheduled on its own writes what was queued (again after the first flush), a
// `flush()` resolves only once everything recorded before it is written, even with another flush
// under way; the queue is bounded (more is dropped and counted); a batch the database refuses is
// counted as failed and warned about without its content, never thrown; the webhook rows commit in
// the same transaction as their events, and the dispatcher is told only when a batch committed.
import assert from "node:assert/strict";
import { sql, type Transaction } from "kysely";
import { afterEach, beforeEach, describe, test } from "node:test";
import { eventRow } from "../../../../src/core/events/record.js";
import { EventRecorder, type EventRecorderOptions } from "../../../../src/core/events/recorder.js";
import type { EventRow } from "../../../../src/store/queries/events.js";
import { openStore, type Store } from "../../../../src/store/database.js";
import { migrateToLatest } from "../../../../src/store/migrations/index.js";
import type { Database } from "../../../../src/store/schema.js";

const NOW = Date.parse("2030-01-01T00:00:00.000Z");
let store: Store;
let warnings: string[];
beforeEach(async () => {
  store = await openStore("sqlite::memory:");
  await migrateToLatest(store.db);
  warnings = [];
});
afterEach(() => store.close());

const row = (detail: Record<string, string> = {}): EventRow =>
  eventRow({ type: "logout", userId: "u1", actor: "self", client: { ip: "203.0.113.5", userAgent: "ua" }, detail }, NOW);
const recorder = (options: Partial<EventRecorderOptions> = {}) =>
  new EventRecorder(store.db, { onWarning: (m) => warnings.push(m), ...options });
async function stored(): Promise<string[]> {
  const rows = await store.db.selectFrom("tokenver_events").select("id").orderBy("id").execute();
  return rows.map((r) => r.id);
}

describe("EventRecorder", () => {
  test("record() only queues; flush() writes it, and counts it", async () => {
    const events = recorder();
    const r = row();
    events.record(r);
    assert.deepEqual(await stored(), [], "nothing written during record()");
    assert.deepEqual(events.stats(), { recorded: 1, written: 0, failed: 0, dropped: 0 });
    await events.flush();
    assert.deepEqual(await stored(), [r.id]);
    assert.deepEqual(events.stats(), { recorded: 1, written: 1, failed: 0, dropped: 0 });
  });

  // A liveness bound, not a timing assertion: without the scheduled flush the test would wait forever.
  test(
    "a recorded event is written without anyone calling flush(), and so is one recorded after that write",
    { timeout: 10_000 },
    async () => {
      let told: () => void = () => {};
      const events = recorder({ afterWrite: () => told() });
      const written = () => new Promise<void>((resolve) => (told = resolve));
      const first = row();
      let wrote = written();
      events.record(first);
      await wrote; // the flush scheduled by record() committed
      assert.deepEqual(await stored(), [first.id]);
      const second = row();
      wrote = written();
      events.record(second);
      await wrote; // a second scheduled flush: the first one cleared the flag
      assert.deepEqual(await stored(), [first.id, second.id].sort());
    },
  );

  test("flush() resolves only once what was recorded before it is written, even while another flush runs", async () => {
    const events = recorder();
    const r = row();
    events.record(r);
    const running = events.flush();
    await events.flush();
    // Read the count, not the table: a read would queue behind the write on SQLite's one connection.
    assert.equal(events.stats().written, 1, "the second flush waited for the first one's write");
    assert.deepEqual(await stored(), [r.id]);
    await running;
  });

  test("the queue holds maxQueue events; more are dropped and counted", async () => {
    const events = recorder({ maxQueue: 2 });
    const kept = [row(), row()];
    for (const r of [...kept, row(), row()]) events.record(r);
    assert.deepEqual(events.stats(), { recorded: 2, written: 0, failed: 0, dropped: 2 });
    await events.flush();
    assert.deepEqual(await stored(), kept.map((r) => r.id).sort());
    // Written, the queue has room again.
    events.record(row());
    assert.equal(events.stats().recorded, 3);
  });

  test("by default the queue holds 10,000 events", async () => {
    const events = recorder();
    const one = row();
    for (let i = 0; i < 10_001; i++) events.record(one);
    assert.deepEqual(events.stats(), { recorded: 10_000, written: 0, failed: 0, dropped: 1 });
    await sql`drop table tokenver_events`.execute(store.db); // no need to write them: counted as failed
    await events.flush();
    assert.equal(events.stats().failed, 10_000);
  });

  test("reject() counts a dropped event and writes nothing", async () => {
    const events = recorder();
    events.reject();
    await events.flush();
    assert.deepEqual(events.stats(), { recorded: 0, written: 0, failed: 0, dropped: 1 });
    assert.deepEqual(await stored(), []);
  });

  test("stats() is a copy", () => {
    const events = recorder();
    const stats = events.stats();
    stats.dropped = 99;
    assert.equal(events.stats().dropped, 0);
  });

  test("a batch the database refuses is counted as failed and warned about, without its content, never thrown", async () => {
    let afterWrites = 0;
    const events = recorder({ afterWrite: () => afterWrites++ });
    await sql`drop table tokenver_events`.execute(store.db);
    const secretish = row({ scope: "a-detail-that-must-not-reach-a-log" });
    events.record(secretish);
    events.record(row());
    await events.flush(); // resolves, never rejects
    assert.deepEqual(events.stats(), { recorded: 2, written: 0, failed: 2, dropped: 0 });
    assert.deepEqual(warnings, ["security events: 2 could not be written (the database did not answer) and are lost"]);
    assert.equal(afterWrites, 0, "nothing committed: the dispatcher is not told");
  });

  test("alsoWrite runs in the batch's transaction: its failure takes the events with it", async () => {
    const seen: Array<{ inTransaction: boolean; ids: string[] }> = [];
    const events = recorder({
      alsoWrite: async (trx: Transaction<Database>, rows) => {
        seen.push({ inTransaction: trx.isTransaction, ids: rows.map((r) => r.id as string) });
        throw new Error("the outbox write failed");
      },
    });
    const r = row();
    events.record(r);
    await events.flush();
    assert.deepEqual(seen, [{ inTransaction: true, ids: [r.id] }]);
    assert.deepEqual(await stored(), [], "rolled back with the outbox rows");
    assert.deepEqual(events.stats(), { recorded: 1, written: 0, failed: 1, dropped: 0 });
    assert.equal(warnings.length, 1);
  });

  test("batches of 500, one transaction each; the dispatcher told once per flush that wrote", async () => {
    const batches: number[] = [];
    let afterWrites = 0;
    const events = recorder({ alsoWrite: async (_trx, rows) => void batches.push(rows.length), afterWrite: () => afterWrites++ });
    for (let i = 0; i < 1001; i++) events.record(row());
    await events.flush();
    assert.deepEqual(batches, [500, 500, 1]);
    assert.equal((await stored()).length, 1001);
    assert.equal(events.stats().written, 1001);
    assert.equal(afterWrites, 1);
    await events.flush();
    assert.equal(afterWrites, 1, "a flush that wrote nothing tells no one");
  });
});
