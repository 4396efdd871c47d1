// Unit tests for src/core/mail/outbox.ts: what starts a pass. A delivering process sends a mail it
// queued itself at once (a kick 20 ms after the insert), not at the next poll; the poll (every
// second) finds what another process queued. The poll's setInterval is node:test's mock timer
// here, so a pass runs only when the test ticks it: which of the two sent a mail is then certain,
// not a matter of timing. Real SQLite in memory, the real SMTP transport to a real smtp-server.
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, mock, test } from "node:test";
import { MAIL_POLL_MS, Outbox } from "../../../../src/core/mail/outbox.js";
import { smtpTransport } from "../../../../src/core/mail/transport.js";
import { openStore, type Store } from "../../../../src/store/database.js";
import { migrateToLatest } from "../../../../src/store/migrations/index.js";
import { startSmtp, type TestSmtp } from "../../../support/smtp.js";

const KEY = Buffer.alloc(32, 7);
const START = Date.UTC(2026, 11, 2, 18, 0, 0);

describe("Outbox: the kick after enqueue and the poll", () => {
  let smtp: TestSmtp;
  let store: Store;
  const outboxes: Outbox[] = [];
  const warnings: string[] = [];

  function outbox(deliver: boolean): Outbox {
    const o = new Outbox({
      db: store.db,
      transport: smtpTransport(smtp.url),
      key: KEY,
      from: "tokenver <no-reply@localhost>",
      clock: () => START,
      onWarning: (m) => warnings.push(m),
      deliver,
    });
    outboxes.push(o);
    return o;
  }
  const rows = () => store.db.selectFrom("mail_outbox").select(["attempts", "lease_owner"]).execute();

  before(async () => {
    smtp = await startSmtp();
  });
  after(async () => {
    await smtp.close();
  });
  beforeEach(async () => {
    store = await openStore("sqlite::memory:");
    await migrateToLatest(store.db);
    warnings.length = 0;
    // Only setInterval (the poll): the 20 ms kick, SMTP and SQLite keep real time.
    mock.timers.enable({ apis: ["setInterval"] });
  });
  afterEach(async () => {
    mock.timers.reset();
    for (const o of outboxes.splice(0)) await o.close();
    await store.close();
  });

  test("a delivering process sends what it queued at once, with no poll", async () => {
    const before = smtp.received.length;
    await outbox(true).enqueue({ to: "now@example.com", template: "account_deleted", data: {} });
    // No tick of the poll: the mail goes on the enqueue's own kick.
    const [mail] = (await smtp.waitFor(before + 1, 5_000)).slice(before);
    assert.deepEqual(mail!.to, ["now@example.com"]);
    assert.deepEqual(warnings, []);
  });

  test("a mail another process queued waits for the poll, and the poll's tick sends it", async () => {
    const before = smtp.received.length;
    const o = outbox(true);
    await outbox(false).enqueue({ to: "polled@example.com", template: "account_deleted", data: {} });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(smtp.received.length, before, "no pass without a kick");
    assert.deepEqual(await rows(), [{ attempts: 0, lease_owner: null }]);
    mock.timers.tick(MAIL_POLL_MS);
    const [mail] = (await smtp.waitFor(before + 1, 5_000)).slice(before);
    assert.deepEqual(mail!.to, ["polled@example.com"]);
    await o.close();
    assert.deepEqual(warnings, []);
  });
});
