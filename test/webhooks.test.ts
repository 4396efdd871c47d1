import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createAuth } from "../src/create-auth.js";
import { BACKOFF_MS } from "../src/core/webhooks/backoff.js";
import { sendWebhook } from "../src/core/webhooks/send.js";
import { openStore, type Store } from "../src/store/database.js";
import { createTestDatabase, dialects, type TestDatabase } from "./support/databases.js";
import { startServer, TEST_SECRET, type TestServer } from "./support/server.js";
import { WebhookReceiver, webhookSecret } from "./support/webhook-receiver.js";

const PASSWORD = "a long and unguessable passphrase";

for (const dialect of dialects()) {
  describe(`webhooks (${dialect})`, () => {
    let dir: string;
    const databases: TestDatabase[] = [];
    const closers: Array<() => Promise<void>> = [];
    before(() => {
      dir = mkdtempSync(join(tmpdir(), "tokenver-webhooks-"));
    });
    after(async () => {
      for (const close of closers.reverse()) await close().catch(() => {});
      for (const d of databases) await d.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    async function database(): Promise<TestDatabase> {
      const d = await createTestDatabase(dialect, join(dir, `w${databases.length}.db`));
      databases.push(d);
      return d;
    }

    async function receiver(secrets: string[]): Promise<WebhookReceiver> {
      const r = await new WebhookReceiver(secrets).start();
      closers.push(() => r.stop());
      return r;
    }

    /** A server POSTing to `urls`, over `db`, on a clock the test moves. */
    async function server(db: TestDatabase, urls: string[], secret: string, clock: { now: number }): Promise<TestServer> {
      const s = await startServer({
        dialect,
        databaseUrl: db.url,
        sqliteLock: false,
        webhookUrls: urls.join(","),
        webhookSecret: secret,
        clock: () => clock.now,
      });
      closers.push(async () => {
        await s.app.close();
        await s.auth.close();
      });
      return s;
    }

    async function signIn(s: TestServer) {
      const user = await s.api.register(undefined, PASSWORD);
      return { ...user, session: await s.api.login(user.email, PASSWORD) };
    }

    async function outbox(db: TestDatabase) {
      const store = await openStore(db.url);
      try {
        return {
          pending: await store.db.selectFrom("tokenver_webhook_outbox").selectAll().execute(),
          dead: await store.db.selectFrom("tokenver_webhook_dead_letters").selectAll().execute(),
          disabled: await store.db.selectFrom("tokenver_webhook_endpoints").selectAll().execute(),
        };
      } finally {
        await store.close();
      }
    }

    test("each event is POSTed signed (two secrets while rotating), webhook-id = the event's id, with the user's token_version", async () => {
      const [s1, s2] = [webhookSecret(), webhookSecret()];
      const r = await receiver([s1, s2]);
      const clock = { now: Date.now() };
      const s = await server(await database(), [r.url], `${s1} ${s2}`, clock);
      const alice = await signIn(s);
      assert.equal((await s.api.post("/logout", {}, alice.session.access)).status, 204);
      await s.auth.flushEvents();
      await s.auth.deliverWebhooks();

      const again = await s.api.login(alice.email, PASSWORD);
      const events = (await s.api.get("/events", again.access)).body.events as Array<{ id: string; type: string }>;
      await s.auth.deliverWebhooks();
      assert.equal(r.deliveries.length, events.length);
      const byId = new Map(r.deliveries.map((d) => [d.id, d]));
      for (const event of events) {
        const delivery = byId.get(event.id);
        assert.ok(delivery, `${event.type} delivered under its event id`);
        assert.deepEqual(delivery.verified, [true, true], "Webhook.verify accepts it with either secret");
        assert.equal(delivery.signature.split(" ").length, 2);
        const payload = JSON.parse(delivery.body);
        assert.deepEqual(Object.keys(payload).sort(), ["data", "timestamp", "type"]);
        assert.equal(payload.type, event.type);
        assert.equal(payload.data.id, event.id);
        assert.equal(payload.data.user_id, alice.user.id);
        assert.equal(payload.timestamp, payload.data.at);
        if (event.type === "logout") assert.equal(payload.data.token_version, 1, "the version after the logout");
        assert.ok(
          !delivery.body.includes(PASSWORD) &&
            !delivery.body.includes(alice.session.refresh) &&
            !delivery.body.includes(alice.session.access),
        );
      }
      assert.equal((await outbox(databases.at(-1)!)).pending.length, 0, "delivered rows leave the outbox");
    });

    test("a failing receiver is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then dead-lettered; the id never changes", async () => {
      const secret = webhookSecret();
      const r = await receiver([secret]);
      r.behaviour = 500;
      const clock = { now: Date.now() };
      const db = await database();
      const s = await server(db, [r.url], secret, clock);
      await signIn(s); // one event: login.succeeded
      await s.auth.flushEvents();
      await s.auth.deliverWebhooks();
      assert.equal(r.deliveries.length, 1);
      assert.deepEqual(r.deliveries[0]!.verified, [true]);
      for (const [i, wait] of BACKOFF_MS.entries()) {
        clock.now += wait - 1;
        await s.auth.deliverWebhooks();
        assert.equal(r.deliveries.length, i + 1, `not before ${wait} ms`);
        clock.now += 1;
        await s.auth.deliverWebhooks();
        assert.equal(r.deliveries.length, i + 2, `attempt ${i + 2} after ${wait} ms`);
      }
      clock.now += 100 * 3_600_000;
      await s.auth.deliverWebhooks();
      assert.equal(r.deliveries.length, 8, "eight attempts in all");
      assert.equal(new Set(r.deliveries.map((d) => d.id)).size, 1, "one webhook-id on every attempt");
      const rows = await outbox(db);
      assert.equal(rows.pending.length, 0);
      assert.equal(rows.dead.length, 1);
      assert.equal(rows.dead[0]!.event_id, r.deliveries[0]!.id);
      assert.equal(rows.dead[0]!.attempts, 8);
      assert.equal(rows.dead[0]!.last_error, "HTTP 500");
    });

    test("410 disables its endpoint and others still get theirs; a redirect is a failure, never followed", async () => {
      const secret = webhookSecret();
      const [gone, moved, elsewhere] = [await receiver([secret]), await receiver([secret]), await receiver([secret])];
      gone.behaviour = 410;
      moved.behaviour = { redirect: elsewhere.url };
      const clock = { now: Date.now() };
      const db = await database();
      const s = await server(db, [gone.url, moved.url], secret, clock);
      await signIn(s);
      await s.auth.flushEvents();
      await s.auth.deliverWebhooks();
      assert.equal(gone.deliveries.length, 1);
      assert.equal(moved.deliveries.length, 1);
      assert.equal(elsewhere.deliveries.length, 0, "the redirect was not followed");
      let rows = await outbox(db);
      assert.deepEqual(
        rows.disabled.map((d) => d.url),
        [gone.url],
      );
      assert.equal(rows.pending.length, 1);
      assert.equal(rows.pending[0]!.url, moved.url);
      assert.equal(rows.pending[0]!.last_error, "HTTP 302");

      moved.behaviour = 204;
      await signIn(s);
      await s.auth.flushEvents();
      clock.now += 5_000;
      await s.auth.deliverWebhooks();
      assert.equal(gone.deliveries.length, 1, "nothing more to a disabled endpoint");
      assert.equal(moved.deliveries.length, 3, "the retry and the new event");
      rows = await outbox(db);
      assert.equal(rows.pending.length, 0);
      assert.ok(rows.dead.every((d) => d.url === gone.url));
    });

    test("a receiver that hangs never delays a request; a restart of both sides loses nothing", async () => {
      const secret = webhookSecret();
      const r = await receiver([secret]);
      r.behaviour = "hang";
      const clock = { now: Date.now() };
      const db = await database();
      const first = await server(db, [r.url], secret, clock);
      const user = await signIn(first);
      await first.auth.flushEvents();
      const stuck = first.auth.deliverWebhooks();
      await r.received(1);
      // The delivery hangs; requests go on at once.
      const login = await first.api.post("/login", { email: user.email, password: PASSWORD });
      assert.equal(login.status, 200);
      let settled = false;
      void stuck.then(() => (settled = true));
      assert.equal(settled, false, "the delivery is still waiting on the receiver");

      // The server stops mid-delivery, the receiver goes down.
      await first.app.close();
      await first.auth.close();
      await stuck;
      await r.stop();

      const second = await server(db, [r.url], secret, clock);
      clock.now += 5_000;
      await second.auth.deliverWebhooks(); // refused: the receiver is down
      assert.equal(r.deliveries.length, 1);
      r.behaviour = 204;
      await r.start();
      clock.now += 300_000;
      await second.auth.deliverWebhooks();
      const store = await openStore(db.url);
      const ids = (await store.db.selectFrom("tokenver_events").select("id").execute()).map((e) => e.id);
      await store.close();
      assert.equal(ids.length, 2);
      const delivered = r.deliveries.filter((d) => d.status === 204).map((d) => d.id);
      assert.deepEqual([...delivered].sort(), [...ids].sort(), "every event delivered after the restarts");
      assert.ok(r.deliveries.filter((d) => d.id === r.deliveries[0]!.id).length >= 2, "the interrupted one again, same id");
      assert.equal((await outbox(db)).pending.length, 0);
    });

    if (dialect === "postgres") {
      test("one node delivers at a time: the other waits while the lease is held", async () => {
        const secret = webhookSecret();
        const r = await receiver([secret]);
        const clock = { now: Date.now() };
        const db = await database();
        const a = await server(db, [r.url], secret, clock);
        const b = await server(db, [r.url], secret, clock);
        await a.auth.deliverWebhooks(); // a takes the lease (and renews it every second in the background)
        await signIn(b);
        await b.auth.flushEvents();
        assert.equal(await b.auth.deliverWebhooks(), 0, "b does not hold the lease: it delivers nothing");
        await a.auth.deliverWebhooks();
        assert.equal(r.deliveries.length, 1, "a delivered b's event, once");
        await a.app.close();
        await a.auth.close(); // gives the lease back
        await signIn(b);
        await b.auth.flushEvents();
        await b.auth.deliverWebhooks();
        assert.equal(r.deliveries.length, 2, "b delivers once a is gone");
        assert.equal(new Set(r.deliveries.map((d) => d.id)).size, 2, "each event once");
      });
    }
  });
}

describe("webhook settings and sending", () => {
  const secret = webhookSecret();
  const create = (webhookUrls: string, webhookSecret?: string) =>
    createAuth({
      databaseUrl: "sqlite::memory:",
      secret: TEST_SECRET,
      webhookUrls,
      ...(webhookSecret === undefined ? {} : { webhookSecret }),
    });

  test("https anywhere, http only to loopback; a secret is required and must be whsec_ of 24 bytes or more", async () => {
    await assert.rejects(create("http://hooks.example.com/x", secret), /webhookUrls must be https/);
    await assert.rejects(create("ftp://127.0.0.1/x", secret), /webhookUrls must be https/);
    await assert.rejects(create("https://user:pw@hooks.example.com/x", secret), /webhookUrls must not carry credentials/);
    await assert.rejects(create("https://hooks.example.com/x"), /webhookSecret must be set/);
    await assert.rejects(create("https://hooks.example.com/x", "whsec_c2hvcnQ="), /webhookSecret must be whsec_/);
    await assert.rejects(create("https://hooks.example.com/x", "plain-text-secret-of-some-length-here"), /webhookSecret must be whsec_/);
    await assert.rejects(createAuth({ databaseUrl: "sqlite::memory:", webhookSecret: secret }), /webhookSecret is set but no webhook URL/);
    for (const ok of ["https://hooks.example.com/x", "http://127.0.0.1:9/x", "http://localhost:9/x", "http://[::1]:9/x"]) {
      const auth = await create(ok, `${secret} ${webhookSecret()}`);
      await auth.close();
    }
  });

  test("a receiver that does not answer is given up on at the total timeout", async () => {
    const r = await new WebhookReceiver([secret]).start();
    r.behaviour = "hang";
    try {
      const started = Date.now();
      const result = await sendWebhook(r.url, {}, "{}", undefined, { connectMs: 5_000, totalMs: 300 });
      assert.deepEqual(result, { error: "timeout" });
      assert.ok(Date.now() - started < 5_000);
      assert.deepEqual(await sendWebhook("http://127.0.0.1:1/x", {}, "{}"), { error: "ECONNREFUSED" });
    } finally {
      await r.stop();
    }
  });

  test("a receiver whose connection never completes is given up on at the connect timeout", async () => {
    // A listener with a full accept queue: the kernel drops further SYNs, so a connect hangs as it
    // would towards a dead host. Python, because Node accepts every connection on its own.
    const listener = spawn("/usr/bin/python3", [
      "-c",
      "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(30)",
    ]);
    const fillers: Socket[] = [];
    try {
      const port = await new Promise<number>((resolve, reject) => {
        listener.stdout.once("data", (data) => resolve(Number(String(data).trim())));
        listener.once("error", reject);
      });
      for (let i = 0; i < 4; i++) fillers.push(connect(port, "127.0.0.1").on("error", () => {}));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = Date.now();
      const result = await sendWebhook(`http://127.0.0.1:${port}/x`, {}, "{}", undefined, { connectMs: 300, totalMs: 5_000 });
      assert.deepEqual(result, { error: "connect timeout" });
      assert.ok(Date.now() - started < 5_000, "given up before the total timeout");
    } finally {
      for (const socket of fillers) socket.destroy();
      listener.kill();
    }
  });
});
