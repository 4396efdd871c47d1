// Unit tests for src/core/webhooks/enqueue.ts over a real SQLite store in memory: the outbox rows
// of a batch of events, one per event and endpoint, written in the batch's own transaction (an
// event is in the outbox exactly when it is in the events table), each payload carrying the
// user's token_version as the batch's transaction sees it.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, beforeEach, describe, test } from "node:test";
import { outboxWriter } from "../../../../src/core/webhooks/enqueue.js";
import { webhookPayload } from "../../../../src/core/webhooks/payload.js";
import { openStore, type Store } from "../../../../src/store/database.js";
import { migrateToLatest } from "../../../../src/store/migrations/index.js";
import type { EventRow } from "../../../../src/store/queries/events.js";
import { insertUser } from "../../../../src/store/queries/users.js";

const NOW = Date.UTC(2026, 11, 2, 9, 30, 0, 250);
const URLS = ["https://a.example/hook", "https://b.example/hook"];

function event(userId: string | null, type = "login.succeeded"): EventRow {
  return {
    id: randomUUID(),
    type,
    user_id: userId,
    session_id: null,
    actor: "self",
    ip: "203.0.113.7",
    user_agent: "test",
    at: new Date(NOW - 1_000).toISOString(),
    detail: "{}",
  };
}

describe("outboxWriter", () => {
  let store: Store;
  const users: string[] = [];
  before(async () => {
    store = await openStore("sqlite::memory:");
    await migrateToLatest(store.db);
    for (const version of [0, 3]) {
      const id = randomUUID();
      await insertUser(store.db, {
        id,
        email: `${id}@example.test`,
        username: null,
        password_hash: "x",
        profile: "{}",
        now: new Date(NOW).toISOString(),
      });
      await store.db.updateTable("users").set({ token_version: version }).where("id", "=", id).execute();
      users.push(id);
    }
  });
  after(async () => {
    await store.close();
  });
  beforeEach(async () => {
    await store.db.deleteFrom("tokenver_webhook_outbox").execute();
  });

  const outbox = () => store.db.selectFrom("tokenver_webhook_outbox").selectAll().execute();

  test("one row per event and endpoint, due now, never attempted, with the payload built for the event", async () => {
    const write = outboxWriter(URLS, () => NOW);
    const events = [event(users[0]!), event(users[1]!, "logout")];
    await store.db.transaction().execute((trx) => write(trx, events));
    const rows = await outbox();
    assert.equal(rows.length, 4);
    for (const e of events) {
      const mine = rows.filter((r) => r.event_id === e.id);
      assert.deepEqual(mine.map((r) => r.url).sort(), URLS);
      for (const r of mine) {
        assert.equal(r.attempts, 0);
        assert.equal(r.last_error, null);
        assert.equal(r.next_attempt_at, new Date(NOW).toISOString());
        assert.equal(r.created_at, new Date(NOW).toISOString());
        assert.match(r.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      }
    }
    assert.equal(new Set(rows.map((r) => r.id)).size, 4, "each row its own id");
    const first = rows.find((r) => r.event_id === events[0]!.id)!;
    assert.equal(first.payload, webhookPayload(events[0]!, 0));
    const second = rows.find((r) => r.event_id === events[1]!.id)!;
    assert.equal(second.payload, webhookPayload(events[1]!, 3));
  });

  test("the token_version is each user's own, several events of one user read once; no user or an unknown user is null", async () => {
    const write = outboxWriter(URLS.slice(0, 1), () => NOW);
    const events = [event(users[1]!), event(users[0]!), event(users[1]!), event(null), event(randomUUID())];
    await store.db.transaction().execute((trx) => write(trx, events));
    const rows = await outbox();
    const version = (e: EventRow) => JSON.parse(rows.find((r) => r.event_id === e.id)!.payload).data.token_version;
    assert.deepEqual(events.map(version), [3, 0, 3, null, null]);
  });

  test("the version is read in the batch's transaction: a change made earlier in it is the one sent", async () => {
    const write = outboxWriter(URLS.slice(0, 1), () => NOW);
    const e = event(users[0]!, "logout");
    await store.db.transaction().execute(async (trx) => {
      await trx.updateTable("users").set({ token_version: 7 }).where("id", "=", users[0]!).execute();
      await write(trx, [e]);
      await trx.updateTable("users").set({ token_version: 0 }).where("id", "=", users[0]!).execute();
    });
    assert.equal(JSON.parse((await outbox())[0]!.payload).data.token_version, 7);
  });

  test("a batch whose transaction rolls back leaves no row", async () => {
    const write = outboxWriter(URLS, () => NOW);
    await assert.rejects(
      store.db.transaction().execute(async (trx) => {
        await write(trx, [event(users[0]!)]);
        throw new Error("the batch fails");
      }),
      /the batch fails/,
    );
    assert.equal((await outbox()).length, 0);
  });

  test("no endpoint or no event: nothing written", async () => {
    await store.db.transaction().execute((trx) => outboxWriter([], () => NOW)(trx, [event(users[0]!)]));
    await store.db.transaction().execute((trx) => outboxWriter(URLS, () => NOW)(trx, []));
    assert.equal((await outbox()).length, 0);
  });
});
