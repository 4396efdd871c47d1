// What the facade wires for mail and webhooks (src/core/auth.ts): the outbox delivers (this
// process is a server, not a command), with the payload key derived under its fixed label (mail
// queued by another process of the same secret is delivered), the default `.eml` transport and
// From; the webhook rows written with each event, the dispatcher nudged after each batch (not
// only by its one-second poll), and `deliverWebhooks()`.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mock, test } from "node:test";
import { Outbox } from "../../../../src/core/mail/outbox.js";
import { customTransport } from "../../../../src/core/mail/transport.js";
import { deriveKey } from "../../../../src/lib/derive-key.js";
import { WebhookReceiver } from "../../../support/webhook-receiver.js";
import { authWorld, eventually, PASSWORD, SECRET } from "./auth-world.js";

const WEBHOOK_SECRET = `whsec_${Buffer.from("w".repeat(32)).toString("base64")}`;

test("the outbox delivers: a mail queued by the facade reaches the transport", async () => {
  const world = await authWorld();
  try {
    const { email } = await world.register();
    await world.auth.settleMail();
    await eventually(() => world.mails.length > 0, "the verification mail delivered");
    assert.equal(world.mails[0]!.to, email);
    assert.equal(world.mails[0]!.from, "Facade Test <auth@example.test>");
  } finally {
    await world.close();
  }
});

test("mail queued by another process of the same secret (a command, which only queues) is delivered", async () => {
  const world = await authWorld();
  const command = new Outbox({
    db: world.store.db,
    transport: customTransport(async () => {
      throw new Error("a command delivers nothing");
    }),
    key: deriveKey(SECRET, "tokenver mail outbox v1"),
    from: "tokenver <cli@example.test>",
    clock: () => world.time.ms,
    onWarning: () => {},
    deliver: false,
  });
  try {
    await command.enqueue({ to: "queued@example.test", template: "password_reset", data: { link: "https://auth.example/reset#t" } });
    await eventually(() => world.mails.some((m) => m.to === "queued@example.test"), "the command's mail delivered");
    assert.deepEqual(world.warnings, []);
  } finally {
    await command.close();
    await world.close();
  }
});

test("without a mail option each mail is an .eml file under ./data/outbox, from tokenver <no-reply@localhost>", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tokenver-auth-mail-"));
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const world = await authWorld({ defaultMail: true });
    try {
      await world.register();
      const outbox = join(dir, "data", "outbox");
      await eventually(() => {
        try {
          return readdirSync(outbox).some((f) => f.endsWith(".eml"));
        } catch {
          return false;
        }
      }, "an .eml file");
      const file = readdirSync(outbox).find((f) => f.endsWith(".eml"))!;
      assert.match(readFileSync(join(outbox, file), "utf8"), /^From: tokenver <no-reply@localhost>\r?$/m);
    } finally {
      await world.close();
    }
  } finally {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("webhooks: each event is delivered after its batch is written (a nudge, the poll held still)", async () => {
  const receiver = await new WebhookReceiver([WEBHOOK_SECRET]).start();
  // Every interval (the dispatcher's poll among them) fires only when ticked: never here.
  mock.timers.enable({ apis: ["setInterval"] });
  const world = await authWorld({ webhooks: { urls: [receiver.url], secrets: [WEBHOOK_SECRET] } });
  try {
    const { email } = await world.register();
    await world.auth.login({ email, password: PASSWORD });
    await world.auth.flushEvents();
    await Promise.race([
      receiver.received(1),
      new Promise((_, reject) => setTimeout(() => reject(new Error("no delivery without the poll")), 8000).unref()),
    ]);
    assert.equal(JSON.parse(receiver.deliveries[0]!.body).type, "login.succeeded");
  } finally {
    mock.timers.reset();
    await world.close();
    await receiver.stop();
  }
});

test("deliverWebhooks delivers what is due now and says how many", async () => {
  const receiver = await new WebhookReceiver([WEBHOOK_SECRET]).start();
  mock.timers.enable({ apis: ["setInterval"] });
  const world = await authWorld({ webhooks: { urls: [receiver.url], secrets: [WEBHOOK_SECRET] } });
  try {
    receiver.behaviour = 500;
    const { email } = await world.register();
    await world.auth.login({ email, password: PASSWORD });
    await world.auth.flushEvents();
    await receiver.received(1); // the nudge's attempt, refused: retried after its backoff
    assert.equal(await world.auth.deliverWebhooks(), 0);
    receiver.behaviour = 204;
    world.time.ms += 3_600_000;
    assert.equal(await world.auth.deliverWebhooks(), 1);
    assert.equal(receiver.deliveries.length, 2);
  } finally {
    mock.timers.reset();
    await world.close();
    await receiver.stop();
  }
});
