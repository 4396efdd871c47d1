import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { simpleParser } from "mailparser";
import { MAIL_BACKOFF_SECONDS, Outbox } from "../../src/core/mail/outbox.js";
import {
  customTransport,
  fileTransport,
  isLoopback,
  smtpOptions,
  smtpTransport,
  type MailTransport,
} from "../../src/core/mail/transport.js";
import type { MailMessage } from "../../src/core/mail/message.js";
import { createAuth } from "../../src/create-auth.js";
import { openStore, type Store } from "../../src/store/database.js";
import { migrateToLatest } from "../../src/store/migrations/index.js";
import { createTestDatabase, dialects, type TestDatabase } from "../support/databases.js";
import { TEST_SECRET } from "../support/server.js";
import { linkIn, SMTP_PASSWORD, startSmtp, type TestSmtp } from "../support/smtp.js";

const KEY = Buffer.alloc(32, 7);
const FROM = "tokenver <no-reply@localhost>";
const LINK = "http://127.0.0.1:3000/account/verify#token=abcDEF123_-";

function manualClock(start = Date.now()) {
  let now = start;
  return { clock: () => now, advance: (ms: number) => void (now += ms) };
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const rows = (store: Store) => store.db.selectFrom("mail_outbox").selectAll().execute();

for (const dialect of dialects()) {
  describe(`the mail outbox (${dialect})`, () => {
    let database: TestDatabase;
    let store: Store;
    let smtp: TestSmtp;
    const outboxes: Outbox[] = [];
    const warnings: string[] = [];

    function outbox(transport: MailTransport, clock = Date.now as () => number, deliver = true, db = store.db): Outbox {
      const o = new Outbox({ db, transport, key: KEY, from: FROM, clock, onWarning: (m) => warnings.push(m), deliver });
      outboxes.push(o);
      return o;
    }

    before(async () => {
      database = await createTestDatabase(dialect);
      store = await openStore(database.url, { exclusive: false });
      await migrateToLatest(store.db);
      smtp = await startSmtp();
    });
    after(async () => {
      for (const o of outboxes) await o.close();
      await smtp.close();
      await store.close();
      await database.drop();
    });

    test("a queued mail goes out over SMTP with a plain-text part, an HTML part and the link on a line of its own", async () => {
      const o = outbox(smtpTransport(smtp.url));
      const before = smtp.received.length;
      await o.enqueue({ to: "ada@example.com", template: "verify_email", data: { link: LINK } });
      const [mail] = (await smtp.waitFor(before + 1)).slice(before);
      assert.deepEqual(mail!.to, ["ada@example.com"]);
      assert.deepEqual(
        mail!.parsed.from?.value.map((a) => [a.name, a.address]),
        [["tokenver", "no-reply@localhost"]],
      );
      assert.equal(linkIn(mail!, "http://127.0.0.1:3000/"), LINK);
      assert.match(mail!.html, /<a href="http:\/\/127\.0\.0\.1:3000\/account\/verify#token=abcDEF123_-">/);
      // Sent mail leaves no row behind.
      await until(async () => (await rows(store)).length === 0, "the row to go");
      await o.close();
    });

    test("enqueue never waits for the transport, and the payload at rest is sealed", async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const sent: MailMessage[] = [];
      const o = outbox(
        customTransport(async (m) => {
          await gate;
          sent.push(m);
        }),
      );
      await o.enqueue({ to: "slow@example.com", template: "password_reset", data: { link: LINK } });
      // The transport is still blocked: enqueue returned without it.
      assert.equal(sent.length, 0);
      const [row] = await rows(store);
      assert.ok(row !== undefined);
      assert.ok(!row.payload.includes("abcDEF123"), "the link is not readable in the database");
      assert.ok(!Buffer.from(row.payload, "base64url").toString("latin1").includes("abcDEF123"));
      release();
      await until(() => sent.length === 1, "the blocked send");
      await until(async () => (await rows(store)).length === 0, "the row to go");
      await o.close();
    });

    test("a refused mail is retried after the backoff, and the log says neither the address nor the password", async () => {
      const time = manualClock();
      const o = outbox(smtpTransport(smtp.url), time.clock);
      const before = smtp.received.length;
      smtp.refuseNext(1);
      warnings.length = 0;
      await o.enqueue({ to: "retry@example.com", template: "verify_email", data: { link: LINK } });
      await until(async () => (await rows(store))[0]?.attempts === 1 && (await rows(store))[0]?.lease_owner === null, "the failure");
      const [row] = await rows(store);
      assert.equal(row!.status, "pending");
      assert.equal(Date.parse(row!.next_attempt_at) - time.clock(), MAIL_BACKOFF_SECONDS[0] * 1000);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /attempt 1 \([A-Z]+ 451\)/);
      for (const secret of ["retry@example.com", SMTP_PASSWORD, "abcDEF123"]) assert.ok(!warnings[0]!.includes(secret));
      // Not before its time...
      o.kick();
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(smtp.received.length, before);
      // ...then it goes.
      time.advance(MAIL_BACKOFF_SECONDS[0] * 1000);
      o.kick();
      await smtp.waitFor(before + 1);
      assert.deepEqual(smtp.received.at(-1)!.to, ["retry@example.com"]);
      await until(async () => (await rows(store)).length === 0, "the row to go");
      await o.close();
    });

    test("wrong SMTP credentials fail with a code, never the password, in the log", async () => {
      const o = outbox(smtpTransport(smtp.url.replace(SMTP_PASSWORD, "wrong-password-123")));
      warnings.length = 0;
      await o.enqueue({ to: "auth@example.com", template: "verify_email", data: { link: LINK } });
      await until(() => warnings.length === 1, "the failure");
      assert.match(warnings[0]!, /EAUTH/);
      assert.ok(!warnings[0]!.includes("wrong-password-123") && !warnings[0]!.includes("auth@example.com"));
      await o.close();
      await store.db.deleteFrom("mail_outbox").execute();
    });

    test("a restart loses no mail: what one process queued, the next one delivers", async () => {
      const first = outbox(smtpTransport(smtp.url), Date.now, false);
      await first.enqueue({ to: "restart@example.com", template: "account_deleted", data: {} });
      await first.close();
      assert.equal((await rows(store)).length, 1);
      const before = smtp.received.length;
      const second = outbox(smtpTransport(smtp.url));
      second.kick();
      await smtp.waitFor(before + 1);
      assert.deepEqual(smtp.received.at(-1)!.to, ["restart@example.com"]);
      await second.close();
    });

    test("several nodes draining one outbox send each mail exactly once", async () => {
      const stores = dialect === "postgres" ? [await openStore(database.url), await openStore(database.url)] : [store, store];
      const sent: string[] = [];
      const transport = () => customTransport(async (m) => void sent.push(m.to));
      const queueing = outbox(transport(), Date.now, false);
      const count = 30;
      await Promise.all(
        Array.from({ length: count }, (_, i) => queueing.enqueue({ to: `n${i}@example.com`, template: "account_deleted", data: {} })),
      );
      const nodes = [outbox(transport(), Date.now, true, stores[0]!.db), outbox(transport(), Date.now, true, stores[1]!.db)];
      for (let i = 0; i < 5; i++) for (const n of nodes) n.kick();
      await until(() => sent.length >= count, "every mail");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(sent.length, count);
      assert.equal(new Set(sent).size, count);
      for (const n of nodes) await n.close();
      if (dialect === "postgres") for (const s of stores) await s.close();
    });
  });
}

describe("transports", () => {
  test("SMTP: STARTTLS and a verified certificate are required unless the host is a loopback address", () => {
    const remote = smtpOptions("smtp://u:p%40ss@mail.example.com:587");
    assert.equal(remote.requireTLS, true);
    assert.equal((remote.tls as { rejectUnauthorized: boolean }).rejectUnauthorized, true);
    assert.deepEqual(remote.auth, { user: "u", pass: "p@ss" });
    assert.equal(remote.logger, false);
    const tls = smtpOptions("smtps://mail.example.com");
    assert.equal(tls.secure, true);
    assert.equal(tls.port, 465);
    assert.equal((tls.tls as { rejectUnauthorized: boolean }).rejectUnauthorized, true);
    const local = smtpOptions("smtp://127.0.0.1:2525");
    assert.equal(local.requireTLS, false);
    for (const host of ["localhost", "127.0.0.1", "127.8.9.10", "::1"]) assert.ok(isLoopback(host), host);
    for (const host of ["192.0.2.2", "example.com", "128.0.0.1", "localhost.example.com"]) assert.ok(!isLoopback(host), host);
  });

  test("SMTP to a non-loopback address: no STARTTLS, or a certificate that does not verify, is refused on the wire", async () => {
    const address = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === "IPv4" && !a.internal)?.address;
    // Where the machine has no address but loopback there is no remote host to test against.
    if (address === undefined) return;
    for (const variant of [{ hideSTARTTLS: true }, {}]) {
      const smtp = await startSmtp({ host: address, ...variant });
      try {
        const transport = smtpTransport(smtp.url);
        const message = { from: FROM, to: "x@example.com", subject: "s", text: "t", html: "h" };
        await assert.rejects(transport.send("id", message));
        transport.close();
        assert.equal(smtp.received.length, 0);
      } finally {
        await smtp.close();
      }
    }
  });

  test("without SMTP: an .eml file per mail, mode 0600, and a start-up warning", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tokenver-outbox-"));
    try {
      const warnings: string[] = [];
      const auth = await createAuth({
        secret: TEST_SECRET,
        databaseUrl: "sqlite::memory:",
        mailOutboxDir: join(dir, "outbox"),
        onWarning: (m) => warnings.push(m),
      });
      await auth.close();
      assert.ok(warnings.some((w) => w.includes("mail is not delivered")));
      const transport = fileTransport(join(dir, "outbox"));
      await transport.send("mail-1", { from: FROM, to: "eml@example.com", subject: "Hello", text: `Open:\n\n${LINK}\n`, html: "<p>x</p>" });
      const files = readdirSync(join(dir, "outbox"));
      assert.deepEqual(files, ["mail-1.eml"]);
      const file = join(dir, "outbox", "mail-1.eml");
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const parsed = await simpleParser(readFileSync(file));
      assert.equal(parsed.subject, "Hello");
      assert.ok(parsed.text?.split("\n").includes(LINK));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
