// Unit tests for src/core/webhooks/dispatcher.ts: the outbox's deliverer over a real SQLite store in
// memory and real local HTTP receivers (node:http), on a clock the test moves. What a receiver
// gets (the Standard Webhooks signature over the event id, the attempt's second and the stored
// body, one per secret), when (each attempt counted and its retry scheduled before it is made; the
// documented backoff; the 8th failure dead-lettered), what 410 and an endpoint no longer configured
// do, the lease that keeps a second node out, and the pass's own bookkeeping (nudges, concurrent
// calls, stop, a database that does not answer).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { BACKOFF_MS } from "../../../../src/core/webhooks/backoff.js";
import { WebhookDispatcher } from "../../../../src/core/webhooks/dispatcher.js";
import { outboxWriter } from "../../../../src/core/webhooks/enqueue.js";
import { openStore, type Store } from "../../../../src/store/database.js";
import { migrateToLatest } from "../../../../src/store/migrations/index.js";
import type { EventRow } from "../../../../src/store/queries/events.js";
import { webhookSecret } from "../../../support/webhook-receiver.js";

interface Seen {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A receiver on a loopback port: records each POST, answers `status`, or holds the next `hold` requests until released. */
class Receiver {
  readonly seen: Seen[] = [];
  status = 204;
  hold = 0;
  readonly #held: http.ServerResponse[] = [];
  readonly #waiters: Array<() => void> = [];
  readonly #server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (c: Buffer) => chunks.push(c));
    request.on("end", () => {
      this.seen.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
      for (const wake of this.#waiters.splice(0)) wake();
      if (this.hold > 0) {
        this.hold--;
        this.#held.push(response);
        return;
      }
      response.writeHead(this.status).end();
    });
  });

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hook`;
  }

  /** Answers the held requests with `status`. */
  release(status = this.status): void {
    for (const response of this.#held.splice(0)) response.writeHead(status).end();
  }

  /** Resolves once `count` requests have arrived in all; fails after 10 s. */
  async received(count: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (this.seen.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} requests, got ${this.seen.length}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50).unref();
      });
    }
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

const START = Date.UTC(2026, 11, 2, 10, 0, 0, 500);
const iso = (ms: number) => new Date(ms).toISOString();

interface World {
  store: Store;
  clock: { now: number };
  secrets: string[];
  warnings: string[];
  receivers: Receiver[];
  dispatcher(urls?: string[], pollMs?: number): WebhookDispatcher;
  /** Queues one event (through the real outbox writer) for each of `urls`; resolves to the event. */
  event(urls?: string[]): Promise<EventRow>;
  outbox(): Promise<
    Array<{
      id: string;
      event_id: string;
      url: string;
      payload: string;
      attempts: number;
      next_attempt_at: string;
      last_error: string | null;
    }>
  >;
  dead(): Promise<
    Array<{ event_id: string; url: string; payload: string; attempts: number; last_error: string | null; failed_at: string }>
  >;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function world(receivers = 1): Promise<World> {
  const store = await openStore("sqlite::memory:");
  await migrateToLatest(store.db);
  cleanups.push(() => store.close());
  const rs = await Promise.all(Array.from({ length: receivers }, () => new Receiver().start()));
  for (const r of rs) cleanups.push(() => r.stop());
  const clock = { now: START };
  const secrets = [webhookSecret(), webhookSecret()];
  const warnings: string[] = [];
  return {
    store,
    clock,
    secrets,
    warnings,
    receivers: rs,
    dispatcher(urls = rs.map((r) => r.url), pollMs = 0) {
      const d = new WebhookDispatcher(store.db, { urls, secrets }, { clock: () => clock.now, onWarning: (m) => warnings.push(m), pollMs });
      cleanups.push(() => d.stop());
      return d;
    },
    async event(urls = rs.map((r) => r.url)) {
      const row: EventRow = {
        id: randomUUID(),
        type: "logout",
        user_id: null,
        session_id: null,
        actor: "self",
        ip: null,
        user_agent: null,
        at: iso(clock.now),
        detail: JSON.stringify({ scope: "all" }),
      };
      await store.db.transaction().execute((trx) => outboxWriter(urls, () => clock.now)(trx, [row]));
      return row;
    },
    outbox: () => store.db.selectFrom("tokenver_webhook_outbox").selectAll().orderBy("id").execute(),
    dead: () => store.db.selectFrom("tokenver_webhook_dead_letters").selectAll().orderBy("id").execute(),
  };
}

/** Whether `promise` is still pending after `ms` (used only where the code under test must wait for the receiver). */
async function pendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const still = Symbol("pending");
  const timer = new Promise((resolve) => setTimeout(() => resolve(still), ms));
  return (await Promise.race([promise, timer])) === still;
}

describe("WebhookDispatcher: what is sent", () => {
  test("a due delivery is POSTed once, signed by every secret over the event id, the attempt's second and the stored body; 2xx removes it", async () => {
    const w = await world();
    const [r] = w.receivers;
    const e = await w.event();
    const [row] = await w.outbox();
    const d = w.dispatcher();
    assert.deepEqual(d.urls, [r!.url]);
    w.clock.now += 1_234;
    assert.equal(await d.deliver(), 1);
    assert.equal(r!.seen.length, 1);
    const { headers, body } = r!.seen[0]!;
    assert.equal(body, row!.payload, "the stored body, byte for byte");
    assert.equal(headers["content-type"], "application/json");
    assert.equal(headers["webhook-id"], e.id);
    assert.equal(headers["webhook-timestamp"], String(Math.floor(w.clock.now / 1000)));
    const at = new Date(w.clock.now);
    assert.equal(headers["webhook-signature"], w.secrets.map((s) => new Webhook(s).sign(e.id, at, body)).join(" "));
    assert.deepEqual(await w.outbox(), []);
    assert.deepEqual(await w.dead(), []);
    assert.deepEqual(w.warnings, []);
  });

  test("any 2xx is delivered (200, 299); 300 is not", async () => {
    const w = await world();
    const [r] = w.receivers;
    const d = w.dispatcher();
    for (const status of [200, 299]) {
      r!.status = status;
      await w.event();
      assert.equal(await d.deliver(), 1, String(status));
      assert.deepEqual(await w.outbox(), []);
    }
    r!.status = 300;
    await w.event();
    assert.equal(await d.deliver(), 0);
    const [row] = await w.outbox();
    assert.equal(row!.last_error, "HTTP 300");
  });

  test("a pass delivers everything due, past one batch of 50", async () => {
    const w = await world();
    for (let i = 0; i < 60; i++) await w.event();
    assert.equal(await w.dispatcher().deliver(), 60);
    assert.equal(w.receivers[0]!.seen.length, 60);
    assert.deepEqual(await w.outbox(), []);
  });
});

describe("WebhookDispatcher: when it is sent again", () => {
  test("the attempt is counted and its retry scheduled before it is made; a stop mid-attempt leaves the row for that retry", async () => {
    const w = await world();
    const [r] = w.receivers;
    await w.event();
    const d = w.dispatcher();
    r!.hold = 1;
    const pass = d.deliver();
    await r!.received(1);
    let [row] = await w.outbox();
    assert.equal(row!.attempts, 1);
    assert.equal(row!.next_attempt_at, iso(START + BACKOFF_MS[0]));
    assert.equal(row!.last_error, null);
    await d.stop();
    assert.equal(await pass, 0);
    [row] = await w.outbox();
    assert.deepEqual(
      [row!.attempts, row!.next_attempt_at, row!.last_error],
      [1, iso(START + BACKOFF_MS[0]), null],
      "aborted: not a failure",
    );
    assert.deepEqual(await w.dead(), []);
    // The stopped node gave its lease back: another takes the retry when it is due.
    const next = w.dispatcher();
    w.clock.now += BACKOFF_MS[0] - 1;
    assert.equal(await next.deliver(), 0);
    assert.equal(r!.seen.length, 1);
    w.clock.now += 1;
    r!.release();
    assert.equal(await next.deliver(), 1);
    assert.equal(r!.seen.length, 2);
    assert.equal(r!.seen[1]!.headers["webhook-id"], r!.seen[0]!.headers["webhook-id"], "the same webhook-id on a retry");
  });

  test("failures wait 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h to the millisecond; the 8th is dead-lettered with a warning", async () => {
    const w = await world();
    const [r] = w.receivers;
    r!.status = 500;
    const e = await w.event();
    const [queued] = await w.outbox();
    const d = w.dispatcher();
    assert.equal(await d.deliver(), 0);
    for (const [i, wait] of BACKOFF_MS.entries()) {
      const [row] = await w.outbox();
      assert.equal(row!.attempts, i + 1);
      assert.equal(row!.last_error, "HTTP 500");
      assert.equal(row!.next_attempt_at, iso(w.clock.now + wait), `after attempt ${i + 1}`);
      w.clock.now += wait - 1;
      assert.equal(await d.deliver(), 0);
      assert.equal(r!.seen.length, i + 1, `not before ${wait} ms`);
      w.clock.now += 1;
      assert.equal(await d.deliver(), 0);
      assert.equal(r!.seen.length, i + 2, `attempt ${i + 2} at ${wait} ms`);
    }
    assert.deepEqual(await w.outbox(), []);
    const dead = await w.dead();
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.event_id, e.id);
    assert.equal(dead[0]!.url, r!.url);
    assert.equal(dead[0]!.payload, queued!.payload);
    assert.equal(dead[0]!.attempts, 8);
    assert.equal(dead[0]!.last_error, "HTTP 500");
    assert.equal(dead[0]!.failed_at, iso(w.clock.now));
    assert.deepEqual(w.warnings, ["webhooks: a delivery failed 8 times (HTTP 500) and went to the dead-letter table"]);
    assert.ok(!w.warnings[0]!.includes(r!.url) && !w.warnings[0]!.includes(e.id), "the warning names no endpoint or event");
    w.clock.now += 100 * 3_600_000;
    assert.equal(await d.deliver(), 0);
    assert.equal(r!.seen.length, 8, "eight attempts in all");
  });

  test("the last attempt schedules one more should the process die during it; after such a death it goes at once and is dead-lettered", async () => {
    const w = await world();
    const [r] = w.receivers;
    await w.event();
    await w.store.db.updateTable("tokenver_webhook_outbox").set({ attempts: 7 }).execute();
    const d = w.dispatcher();
    r!.hold = 1;
    const pass = d.deliver();
    await r!.received(1);
    let [row] = await w.outbox();
    assert.equal(row!.attempts, 8);
    assert.equal(row!.next_attempt_at, iso(START + BACKOFF_MS[6]), "the 8th attempt's fallback: the last wait again");
    await d.stop();
    assert.equal(await pass, 0);

    // The process died during the 8th attempt: the 9th goes when due, is claimed with no wait, and fails for good.
    w.clock.now = START + BACKOFF_MS[6];
    const again = w.dispatcher();
    r!.hold = 1;
    const retry = again.deliver();
    await r!.received(2);
    [row] = await w.outbox();
    assert.equal(row!.attempts, 9);
    assert.equal(row!.next_attempt_at, iso(w.clock.now));
    r!.release(503);
    assert.equal(await retry, 0);
    assert.deepEqual(await w.outbox(), []);
    const [dead] = await w.dead();
    assert.deepEqual([dead!.attempts, dead!.last_error], [9, "HTTP 503"]);
    assert.deepEqual(w.warnings, ["webhooks: a delivery failed 9 times (HTTP 503) and went to the dead-letter table"]);
  });

  test("a receiver that cannot be reached is recorded by its error code, and retried", async () => {
    const w = await world();
    const [r] = w.receivers;
    const url = r!.url;
    await w.event();
    await r!.stop();
    const d = w.dispatcher([url]);
    assert.equal(await d.deliver(), 0);
    const [row] = await w.outbox();
    assert.deepEqual([row!.attempts, row!.last_error, row!.next_attempt_at], [1, "ECONNREFUSED", iso(START + BACKOFF_MS[0])]);
    assert.deepEqual(w.warnings, []);
  });
});

describe("WebhookDispatcher: endpoints that are gone", () => {
  test("410 disables the endpoint and dead-letters all of its deliveries; the other endpoint still gets every one, later ones too", async () => {
    const w = await world(2);
    const [gone, ok] = w.receivers;
    gone!.status = 410;
    const events = [await w.event(), await w.event(), await w.event()];
    const d = w.dispatcher();
    assert.equal(await d.deliver(), 3);
    assert.equal(gone!.seen.length, 1, "one request to the 410 endpoint, then no more");
    assert.equal(ok!.seen.length, 3);
    const [endpoint] = await w.store.db.selectFrom("tokenver_webhook_endpoints").selectAll().execute();
    assert.deepEqual(endpoint, { url: gone!.url, disabled_at: iso(START), reason: "410 Gone" });
    let dead = await w.dead();
    assert.deepEqual(dead.map((r) => r.event_id).sort(), events.map((e) => e.id).sort());
    for (const r of dead) assert.deepEqual([r.url, r.last_error], [gone!.url, "endpoint disabled (410 Gone)"]);
    assert.deepEqual(await w.outbox(), []);
    assert.deepEqual(w.warnings, ["webhooks: an endpoint answered 410 Gone and is disabled; 3 deliveries moved to the dead-letter table"]);

    // A later event: the disabled endpoint's row goes to the dead letters unsent, the other is delivered.
    const later = await w.event();
    assert.equal(await d.deliver(), 1);
    assert.equal(gone!.seen.length, 1);
    assert.equal(ok!.seen.length, 4);
    dead = await w.dead();
    const mine = dead.find((r) => r.event_id === later.id)!;
    assert.deepEqual([mine.url, mine.attempts, mine.last_error], [gone!.url, 0, "endpoint disabled (410 Gone)"]);
    assert.equal(w.warnings.length, 1, "no new warning for a row of an endpoint already disabled");
  });

  test("a row for an endpoint no longer configured is dead-lettered unsent", async () => {
    const w = await world(2);
    const [kept, dropped] = w.receivers;
    const e = await w.event();
    const d = w.dispatcher([kept!.url]);
    assert.equal(await d.deliver(), 1);
    assert.equal(dropped!.seen.length, 0);
    const dead = await w.dead();
    assert.equal(dead.length, 1);
    assert.deepEqual(
      [dead[0]!.event_id, dead[0]!.url, dead[0]!.attempts, dead[0]!.last_error],
      [e.id, dropped!.url, 0, "endpoint no longer configured"],
    );
    assert.equal(dead[0]!.failed_at, iso(START));
    assert.deepEqual(await w.outbox(), []);
  });
});

describe("WebhookDispatcher: one node at a time", () => {
  test("another node's lease keeps a node out until it runs out (30 s after its last renewal)", async () => {
    const w = await world();
    const [r] = w.receivers;
    const a = w.dispatcher();
    const b = w.dispatcher();
    assert.equal(await a.deliver(), 0, "a takes the lease");
    // As docs/operations.md says: row `webhooks` of tokenver_leases, for 30 s.
    const leases = await w.store.db.selectFrom("tokenver_leases").selectAll().execute();
    assert.deepEqual(
      leases.map((l) => [l.name, l.expires_at]),
      [["webhooks", iso(START + 30_000)]],
    );
    assert.notEqual(leases[0]!.holder, "");
    await w.event();
    assert.equal(await b.deliver(), 0, "b does not hold it");
    assert.equal(r!.seen.length, 0);
    w.clock.now += 30_000;
    assert.equal(await b.deliver(), 0, "still a's at its last millisecond");
    w.clock.now += 1;
    assert.equal(await b.deliver(), 1, "b once it ran out");
    assert.equal(await a.deliver(), 0, "and now a is the one kept out");
  });

  test("the lease is renewed before each attempt: a long pass keeps it", async () => {
    const w = await world();
    const [r] = w.receivers;
    await w.event();
    await w.event();
    const a = w.dispatcher();
    const b = w.dispatcher();
    r!.hold = 1;
    const pass = a.deliver();
    await r!.received(1);
    w.clock.now += 25_000; // the first attempt took 25 s
    r!.release();
    assert.equal(await pass, 2);
    w.clock.now += 6_000; // 31 s after the pass began, 6 s after the renewal before the second attempt
    await w.event();
    assert.equal(await b.deliver(), 0, "a's lease, renewed at 25 s, still holds");
    assert.equal(await a.deliver(), 1);
  });

  test("a row another node claimed meanwhile is not sent, nor counted", async () => {
    const w = await world();
    const [r] = w.receivers;
    await w.event();
    await w.event();
    const d = w.dispatcher();
    r!.hold = 1;
    const pass = d.deliver();
    await r!.received(1);
    // The other row's attempt is claimed elsewhere (its attempts moved) before this pass reaches it.
    const seenId = r!.seen[0]!.headers["webhook-id"];
    await w.store.db.updateTable("tokenver_webhook_outbox").set({ attempts: 1 }).where("event_id", "!=", String(seenId)).execute();
    r!.release();
    assert.equal(await pass, 1);
    assert.equal(r!.seen.length, 1);
  });

  test("stop gives the lease back at once", async () => {
    const w = await world();
    const a = w.dispatcher();
    assert.equal(await a.deliver(), 0);
    await a.stop();
    await w.event();
    assert.equal(await w.dispatcher().deliver(), 1);
  });

  test("a stop during a pass aborts the attempt under way and attempts nothing more", async () => {
    const w = await world();
    const [r] = w.receivers;
    await w.event();
    await w.event();
    const d = w.dispatcher();
    r!.hold = 1;
    const pass = d.deliver();
    await r!.received(1);
    await d.stop();
    assert.equal(await pass, 0);
    assert.deepEqual((await w.outbox()).map((row) => row.attempts).sort(), [0, 1], "the second row was not attempted");
    assert.equal(r!.seen.length, 1);
    assert.equal(await d.deliver(), 0, "a stopped dispatcher delivers nothing");
    assert.equal(r!.seen.length, 1);
  });
});

describe("WebhookDispatcher: passes", () => {
  test("deliver() during a pass waits for it, then makes its own", async () => {
    const w = await world();
    const [r] = w.receivers;
    await w.event();
    const d = w.dispatcher();
    r!.hold = 1;
    const first = d.deliver();
    await r!.received(1);
    await w.event();
    const second = d.deliver();
    assert.equal(await pendingAfter(second, 500), true, "the second call waits for the pass under way");
    assert.equal(r!.seen.length, 1, "nothing sent beside the held attempt");
    r!.release();
    assert.equal(await first, 1);
    assert.equal(await second, 1, "its own pass delivered the event queued meanwhile");
    assert.equal(r!.seen.length, 2);
    assert.equal(await d.deliver(), 0, "and the next call, with nothing due, ends");
  });

  test("a nudge starts a pass; a nudge during a pass runs one more right after it", async () => {
    const w = await world();
    const [r] = w.receivers;
    await w.event();
    const d = w.dispatcher();
    r!.hold = 1;
    d.nudge();
    await r!.received(1);
    await w.event(); // queued during the pass: not in its batch
    d.nudge();
    r!.release();
    await r!.received(2);
    await d.deliver(); // the pass that delivered it has ended
    assert.deepEqual(await w.outbox(), []);
  });

  test("polls on its own every pollMs; with pollMs 0 never", async () => {
    const w = await world();
    const [r] = w.receivers;
    await w.event();
    const still = w.dispatcher(undefined, 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(r!.seen.length, 0, "pollMs 0: nothing without a call");
    await still.stop();
    w.dispatcher(undefined, 50);
    await r!.received(1);
  });

  test("by default it polls every second, on a timer that does not keep the process alive", async () => {
    const w = await world();
    const [r] = w.receivers;
    await w.event();
    const timers = () => process.getActiveResourcesInfo().filter((x) => x === "Timeout").length;
    const before = timers();
    const d = new WebhookDispatcher(w.store.db, { urls: [r!.url], secrets: w.secrets }, { clock: () => w.clock.now, onWarning: () => {} });
    cleanups.push(() => d.stop());
    assert.equal(timers(), before, "the poll timer is unref'd");
    await r!.received(1);
  });

  test("a database that does not answer is a warning and 0, never a rejection", async () => {
    const w = await world();
    const d = w.dispatcher();
    await w.store.close();
    assert.equal(await d.deliver(), 0);
    assert.deepEqual(w.warnings, ["webhooks: the outbox could not be read (the database did not answer); will retry"]);
  });
});
