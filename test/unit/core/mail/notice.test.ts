// Unit tests for src/core/mail/notice.ts over the real core on SQLite in memory
// (test/support/sqlite-core.ts) with a delivering outbox and a real SMTP server in this process:
// a notice goes to the address stored on the account, never one a request brought, and only if
// the change it is about commits; an account that is gone gets nothing.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Core } from "../../../../src/core/context.js";
import { queueNotice } from "../../../../src/core/mail/notice.js";
import { Outbox } from "../../../../src/core/mail/outbox.js";
import { smtpTransport } from "../../../../src/core/mail/transport.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";
import { startSmtp, type TestSmtp } from "../../../support/smtp.js";

describe("queueNotice", () => {
  let smtp: TestSmtp;
  let world: SqliteCore;
  let outbox: Outbox;
  let core: Core;
  before(async () => {
    smtp = await startSmtp();
    world = await sqliteCore();
    outbox = new Outbox({
      db: world.store.db,
      transport: smtpTransport(smtp.url),
      key: Buffer.alloc(32, 3),
      from: "tokenver <no-reply@localhost>",
      clock: Date.now,
      onWarning: () => {},
      deliver: false,
    });
    core = { ...world.core, mail: outbox };
  });
  after(async () => {
    await outbox.close();
    await world.close();
    await smtp.close();
  });

  const queued = () => world.store.db.selectFrom("mail_outbox").select(["id", "template"]).execute();

  test("goes to the address stored on the account, with the template and its data", async () => {
    const userId = await world.addUser();
    const before = smtp.received.length;
    assert.equal(await queueNotice(core, userId, "email_changed", { newEmail: "new@example.com" }), true);
    assert.deepEqual(
      (await queued()).map((r) => r.template),
      ["email_changed"],
    );
    outbox.kick();
    const [mail] = (await smtp.waitFor(before + 1)).slice(before);
    assert.deepEqual(mail!.to, [`${userId}@example.test`]);
    assert.equal(mail!.subject, "Your email address was changed");
    assert.ok(mail!.text.includes("new@example.com"));
  });

  test("an account that is gone: false, and nothing is queued", async () => {
    await world.store.db.deleteFrom("mail_outbox").execute();
    assert.equal(await queueNotice(core, randomUUID(), "account_deleted", {}), false);
    assert.deepEqual(await queued(), []);
  });

  test("read and queued in the flow's transaction: nothing if the change rolls back, the mail if it commits", async () => {
    await world.store.db.deleteFrom("mail_outbox").execute();
    const userId = await world.addUser();
    await assert.rejects(
      world.store.db.transaction().execute(async (trx) => {
        assert.equal(await queueNotice(core, userId, "account_deleted", {}, trx), true);
        throw new Error("the change fails");
      }),
      /the change fails/,
    );
    assert.deepEqual(await queued(), []);
    // An account created inside the transaction is seen only there: the notice reads in `db`.
    const inside = randomUUID();
    await world.store.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("users")
        .values({
          id: inside,
          email: `${inside}@example.test`,
          username: null,
          password_hash: "x",
          profile: "{}",
          created_at: new Date().toISOString(),
          updated_at: new Date().toISOString(),
        })
        .execute();
      assert.equal(await queueNotice(core, inside, "account_deleted", {}, trx), true);
    });
    assert.deepEqual(
      (await queued()).map((r) => r.template),
      ["account_deleted"],
    );
  });
});
