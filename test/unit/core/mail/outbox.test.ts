// Unit tests for src/core/mail/outbox.ts over a real SQLite store in memory and a real SMTP server
// in this process (smtp-server; never a mock of SMTP), on a clock the test moves. A queued mail is
// rendered and sealed at rest (it opens only with the outbox key and its row's id), exists exactly
// when the transaction that queued it commits, and goes out once; a failure records a code (never
// the address, the link or a credential), waits the documented backoff and is given up (its
// payload erased) after the 9th attempt; a mail in hand is leased to its node for 5 minutes.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import type { MailMessage } from "../../../../src/core/mail/message.js";
import { MAIL_BACKOFF_SECONDS, MAIL_LEASE_SECONDS, Outbox } from "../../../../src/core/mail/outbox.js";
import { open } from "../../../../src/core/mail/seal.js";
import { render } from "../../../../src/core/mail/templates.js";
import { smtpTransport, type MailTransport } from "../../../../src/core/mail/transport.js";
import { openStore, type Store } from "../../../../src/store/database.js";
import { migrateToLatest } from "../../../../src/store/migrations/index.js";
import { SMTP_PASSWORD, startSmtp, type TestSmtp } from "../../../support/smtp.js";

const KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(32, 9);
const FROM = "tokenver <no-reply@localhost>";
const LINK = "http://127.0.0.1:3000/account/verify#token=abcDEF123_-";
const START = Date.UTC(2026, 11, 2, 11, 0, 0, 250);
const iso = (ms: number) => new Date(ms).toISOString();

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The real SMTP transport, with a gate before each send (to look at a mail while it is in hand) and a count of close() calls. */
function gated(url: string) {
  const inner = smtpTransport(url);
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const state = { sends: [] as string[], closes: 0 };
  const transport: MailTransport = {
    kind: "smtp",
    async send(id, message) {
      state.sends.push(id);
      if (gate !== undefined) await gate;
      await inner.send(id, message);
    },
    close() {
      state.closes++;
      inner.close();
    },
  };
  return {
    transport,
    state,
    hold() {
      gate = new Promise((resolve) => (open = resolve));
    },
    release() {
      gate = undefined;
      open?.();
    },
  };
}

describe("Outbox", () => {
  let smtp: TestSmtp;
  let store: Store;
  const clock = { now: START };
  const warnings: string[] = [];
  const outboxes: Outbox[] = [];

  function outbox(options: { transport?: MailTransport; deliver?: boolean; key?: Buffer; db?: Store["db"] } = {}): Outbox {
    const o = new Outbox({
      db: options.db ?? store.db,
      transport: options.transport ?? smtpTransport(smtp.url),
      key: options.key ?? KEY,
      from: FROM,
      clock: () => clock.now,
      onWarning: (m) => warnings.push(m),
      deliver: options.deliver ?? false,
    });
    outboxes.push(o);
    return o;
  }

  const rows = () => store.db.selectFrom("mail_outbox").selectAll().orderBy("created_at").orderBy("id").execute();

  before(async () => {
    smtp = await startSmtp();
  });
  after(async () => {
    await smtp.close();
  });
  afterEach(async () => {
    for (const o of outboxes.splice(0)) await o.close();
    await store.close().catch(() => {});
    smtp.refuseNext(0);
  });
  // A fresh database and clock for each test.
  const fresh = async () => {
    store = await openStore("sqlite::memory:");
    await migrateToLatest(store.db);
    clock.now = START;
    warnings.length = 0;
  };

  test("enqueue renders the template and seals it under the key with the row's id, due now; the row shows neither address nor link", async () => {
    await fresh();
    await outbox().enqueue({ to: "ada@example.com", template: "verify_email", data: { link: LINK } });
    const [row] = await rows();
    assert.ok(row !== undefined);
    assert.deepEqual(
      [row.template, row.status, row.attempts, row.next_attempt_at, row.created_at, row.lease_owner, row.lease_until, row.last_error],
      ["verify_email", "pending", 0, iso(START), iso(START), null, null, null],
    );
    const message = JSON.parse(open(KEY, row.id, row.payload)) as MailMessage;
    assert.deepEqual(message, { from: FROM, to: "ada@example.com", ...render("verify_email", { link: LINK }) });
    assert.throws(() => open(OTHER_KEY, row.id, row.payload), "another key does not open it");
    assert.throws(() => open(KEY, `${row.id}x`, row.payload), "another row's id does not open it");
    const stored = JSON.stringify(row) + Buffer.from(row.payload, "base64url").toString("latin1");
    for (const secret of ["ada@example.com", "abcDEF123", "Confirm"]) assert.ok(!stored.includes(secret), secret);
  });

  test("a mail queued in a transaction exists exactly when that transaction commits", async () => {
    await fresh();
    const o = outbox();
    await assert.rejects(
      store.db.transaction().execute(async (trx) => {
        await o.enqueue({ to: "rolled@example.com", template: "account_deleted", data: {} }, trx);
        throw new Error("the change fails");
      }),
      /the change fails/,
    );
    assert.equal((await rows()).length, 0);
    await store.db.transaction().execute((trx) => o.enqueue({ to: "kept@example.com", template: "account_deleted", data: {} }, trx));
    assert.equal((await rows()).length, 1);
  });

  test("a process that only queues (deliver: false) never sends, neither after enqueue nor on a poll", async () => {
    await fresh();
    const before = smtp.received.length;
    await outbox().enqueue({ to: "queued-only@example.com", template: "account_deleted", data: {} });
    // Past the poll's first tick (1 s): the row was not even claimed.
    await new Promise((r) => setTimeout(r, 1_500));
    const [row] = await rows();
    assert.deepEqual([row?.attempts, row?.lease_owner], [0, null]);
    assert.equal(smtp.received.length, before);
  });

  test("a delivering process sends a queued mail over SMTP on its own, and its row goes", async () => {
    await fresh();
    const before = smtp.received.length;
    await outbox({ deliver: true }).enqueue({ to: "ada@example.com", template: "verify_email", data: { link: LINK } });
    const [mail] = (await smtp.waitFor(before + 1)).slice(before);
    assert.deepEqual(mail!.to, ["ada@example.com"]);
    assert.equal(mail!.subject, "Confirm your email address");
    assert.ok(mail!.text.split(/\r?\n/).includes(LINK), "the link on a line of its own");
    await until(async () => (await rows()).length === 0, "the row to go");
  });

  test("what another process queued is found by the poll (every second), on a timer that does not keep the process alive", async () => {
    await fresh();
    const before = smtp.received.length;
    await outbox().enqueue({ to: "polled@example.com", template: "account_deleted", data: {} });
    const timers = () => process.getActiveResourcesInfo().filter((x) => x === "Timeout").length;
    const count = timers();
    outbox({ deliver: true });
    assert.equal(timers(), count, "the poll timer is unref'd");
    await smtp.waitFor(before + 1);
    assert.deepEqual(smtp.received.at(-1)!.to, ["polled@example.com"]);
  });

  test("one pass sends everything due, past one batch of 20", async () => {
    await fresh();
    const before = smtp.received.length;
    const o = outbox();
    for (let i = 0; i < 21; i++) await o.enqueue({ to: `n${i}@example.com`, template: "account_deleted", data: {} });
    o.kick();
    await smtp.waitFor(before + 21);
    await until(async () => (await rows()).length === 0, "every row to go");
    assert.equal(new Set(smtp.received.slice(before).map((m) => m.to[0])).size, 21);
  });

  test("a kick during a pass runs one more pass right after it", async () => {
    await fresh();
    const g = gated(smtp.url);
    const o = outbox({ transport: g.transport });
    const before = smtp.received.length;
    await o.enqueue({ to: "first@example.com", template: "account_deleted", data: {} });
    g.hold();
    o.kick();
    await until(() => g.state.sends.length === 1, "the first send");
    await o.enqueue({ to: "second@example.com", template: "account_deleted", data: {} });
    o.kick();
    g.release();
    await smtp.waitFor(before + 2);
    assert.deepEqual(
      smtp.received.slice(before).map((m) => m.to[0]),
      ["first@example.com", "second@example.com"],
    );
    // And then the passes stop: with no poll (deliver: false), a mail queued now waits for the next kick.
    await until(async () => (await rows()).length === 0, "both rows to go");
    await o.enqueue({ to: "third@example.com", template: "account_deleted", data: {} });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(smtp.received.length, before + 2);
    o.kick();
    await smtp.waitFor(before + 3);
  });

  test("a mail in hand is leased to its node for 5 minutes, the attempt counted; once the lease runs out another node sends it", async () => {
    await fresh();
    const g = gated(smtp.url);
    const a = outbox({ transport: g.transport });
    await a.enqueue({ to: "leased@example.com", template: "account_deleted", data: {} });
    g.hold();
    a.kick();
    await until(() => g.state.sends.length === 1, "a's send");
    const [row] = await rows();
    assert.equal(row!.attempts, 1);
    assert.equal(row!.lease_until, iso(START + MAIL_LEASE_SECONDS * 1000));
    assert.equal(MAIL_LEASE_SECONDS, 300);
    assert.ok(row!.lease_owner !== null);
    const before = smtp.received.length;
    clock.now = START + MAIL_LEASE_SECONDS * 1000;
    const b = outbox();
    b.kick();
    await smtp.waitFor(before + 1);
    assert.deepEqual(smtp.received.at(-1)!.to, ["leased@example.com"]);
    await until(async () => (await rows()).length === 0, "b to delete it");
    g.release();
    await smtp.waitFor(before + 2); // a's send goes on: at least once
  });

  test("a refused mail: the code and the attempt in the row and the warning, never the address, link or SMTP password; retried 30 s later", async () => {
    await fresh();
    const before = smtp.received.length;
    smtp.refuseNext(1);
    const o = outbox();
    await o.enqueue({ to: "retry@example.com", template: "password_reset", data: { link: LINK } });
    o.kick();
    await until(async () => (await rows())[0]?.attempts === 1 && (await rows())[0]?.lease_owner === null, "the failure");
    const [row] = await rows();
    assert.match(row!.last_error!, /^[A-Z]+ 451$/);
    assert.deepEqual([row!.status, row!.lease_until, row!.next_attempt_at], ["pending", null, iso(START + 30_000)]);
    assert.deepEqual(warnings, [`mail ${row!.id} (password_reset) not delivered, attempt 1 (${row!.last_error}); retrying in 30 s`]);
    for (const secret of ["retry@example.com", "abcDEF123", SMTP_PASSWORD]) assert.ok(!warnings[0]!.includes(secret), secret);
    clock.now = START + 30_000;
    o.kick();
    await smtp.waitFor(before + 1);
    assert.deepEqual(smtp.received.at(-1)!.to, ["retry@example.com"]);
    await until(async () => (await rows()).length === 0, "the row to go");
  });

  test("the backoff is 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, 12 h; the 9th failure gives up and erases the payload", async () => {
    await fresh();
    assert.deepEqual([...MAIL_BACKOFF_SECONDS], [30, 120, 600, 1800, 3600, 10800, 21600, 43200]);
    smtp.refuseNext(1_000);
    const o = outbox();
    await o.enqueue({ to: "never@example.com", template: "verify_email", data: { link: LINK } });
    for (let attempt = 1; attempt <= 9; attempt++) {
      o.kick();
      await until(async () => (await rows())[0]?.attempts === attempt && (await rows())[0]?.lease_owner === null, `attempt ${attempt}`);
      const [row] = await rows();
      if (attempt <= 8) {
        const wait = MAIL_BACKOFF_SECONDS[attempt - 1]!;
        assert.equal(row!.status, "pending");
        assert.equal(row!.next_attempt_at, iso(clock.now + wait * 1000), `after attempt ${attempt}`);
        assert.equal(
          warnings.at(-1),
          `mail ${row!.id} (verify_email) not delivered, attempt ${attempt} (${row!.last_error}); retrying in ${wait} s`,
        );
        clock.now += wait * 1000;
      } else {
        assert.equal(row!.status, "failed");
        assert.equal(row!.payload, "", "the sealed link is erased");
        assert.equal(warnings.at(-1), `mail ${row!.id} (verify_email) not delivered after 9 attempts (${row!.last_error}): given up`);
      }
    }
    assert.equal(warnings.length, 9);
  });

  test("a payload that does not open with this key is never sent: a failure coded ERROR", async () => {
    await fresh();
    const before = smtp.received.length;
    await outbox({ key: OTHER_KEY }).enqueue({ to: "sealed@example.com", template: "account_deleted", data: {} });
    outbox().kick();
    await until(async () => (await rows())[0]?.attempts === 1 && (await rows())[0]?.lease_owner === null, "the failure");
    assert.equal((await rows())[0]!.last_error, "ERROR");
    assert.equal(smtp.received.length, before);
  });

  test("close lets the mail in hand finish, starts nothing more, and closes the transport", async () => {
    await fresh();
    const g = gated(smtp.url);
    const o = outbox({ transport: g.transport });
    const before = smtp.received.length;
    await o.enqueue({ to: "one@example.com", template: "account_deleted", data: {} });
    clock.now += 1;
    await o.enqueue({ to: "two@example.com", template: "account_deleted", data: {} });
    g.hold();
    o.kick();
    await until(() => g.state.sends.length === 1, "the first send");
    o.kick(); // during the pass: asks for one more after it, never a second pass beside it
    await new Promise((r) => setTimeout(r, 100));
    const sendsDuringPass = g.state.sends.length;
    const closing = o.close();
    g.release();
    await closing;
    assert.equal(sendsDuringPass, 1, "no second pass beside the one under way");
    assert.equal(g.state.closes, 1);
    assert.deepEqual(
      smtp.received.slice(before).map((m) => m.to[0]),
      ["one@example.com"],
    );
    const left = await rows();
    assert.deepEqual(
      left.map((r) => r.attempts),
      [0],
      "the second mail stays for the next start, not attempted",
    );
    // A kick after close (the timer of a late enqueue, at shutdown) does nothing: the database may be gone.
    await store.close();
    o.kick();
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(warnings, []);
  });

  test("a database that does not answer is a warning, never a throw", async () => {
    await fresh();
    const o = outbox();
    await store.close();
    o.kick();
    await until(() => warnings.length === 1, "the warning");
    assert.deepEqual(warnings, ["mail outbox: the database did not answer; will retry"]);
  });
});
