// Unit tests for src/core/mail/transport.ts: the SMTP options (TLS required and the certificate
// verified except towards a loopback address, the credentials from the URL only, nodemailer's
// logging off), a mail through a real SMTP server in this process (smtp-server, never a mock),
// the .eml file transport, the library user's own sendMail, and the failure code: what a log line
// or the outbox row may say of a failure (never a server's text, which may quote the address).
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { simpleParser } from "mailparser";
import type { MailMessage } from "../../../../src/core/mail/message.js";
import {
  customTransport,
  failureCode,
  fileTransport,
  isLoopback,
  smtpOptions,
  smtpTransport,
} from "../../../../src/core/mail/transport.js";
import { SMTP_PASSWORD, SMTP_USER, startSmtp, type TestSmtp } from "../../../support/smtp.js";

const MESSAGE: MailMessage = {
  from: "tokenver <no-reply@localhost>",
  to: "ada@example.com",
  subject: "Confirm your email address",
  text: "Open:\n\nhttps://id.example/verify#token=abc\n",
  html: "<p>Open</p>",
};

describe("smtpOptions", () => {
  test("smtp:// to a remote host: STARTTLS required, TLS 1.2 at least, the certificate verified against the host name", () => {
    assert.deepEqual(smtpOptions("smtp://mail.example.com"), {
      host: "mail.example.com",
      port: 587,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: true, minVersion: "TLSv1.2", servername: "mail.example.com" },
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
      logger: false,
      debug: false,
    });
  });

  test("smtps:// is TLS from the start (port 465), no STARTTLS needed; an explicit port wins", () => {
    const tls = smtpOptions("smtps://mail.example.com");
    assert.deepEqual([tls.secure, tls.port, tls.requireTLS], [true, 465, false]);
    assert.equal((tls.tls as { rejectUnauthorized: boolean }).rejectUnauthorized, true);
    assert.equal(smtpOptions("smtps://mail.example.com:2465").port, 2465);
    assert.equal(smtpOptions("smtp://mail.example.com:25").port, 25);
  });

  test("credentials come percent-decoded from the URL; without a user there is no auth at all", () => {
    assert.deepEqual(smtpOptions("smtp://us%40er:p%40ss%3Aw0rd@mail.example.com").auth, { user: "us@er", pass: "p@ss:w0rd" });
    assert.deepEqual(smtpOptions("smtp://user@mail.example.com").auth, { user: "user", pass: "" });
    assert.equal(Object.hasOwn(smtpOptions("smtp://mail.example.com"), "auth"), false);
  });

  test("towards a loopback address: no STARTTLS required, the certificate not verified; an IP gets no servername", () => {
    for (const url of ["smtp://127.0.0.1:2525", "smtp://localhost:2525", "smtp://[::1]:2525", "smtp://relay.localhost"]) {
      const o = smtpOptions(url);
      assert.equal(o.requireTLS, false, url);
      assert.equal((o.tls as { rejectUnauthorized: boolean }).rejectUnauthorized, false, url);
      assert.equal((o.tls as { minVersion: string }).minVersion, "TLSv1.2", url);
    }
    assert.equal(smtpOptions("smtp://[::1]:2525").host, "::1");
    assert.equal(Object.hasOwn(smtpOptions("smtp://[::1]:2525").tls!, "servername"), false);
    assert.equal(Object.hasOwn(smtpOptions("smtp://192.0.2.1").tls!, "servername"), false);
    assert.equal(smtpOptions("smtp://192.0.2.1").requireTLS, true);
    assert.equal((smtpOptions("smtp://localhost").tls as { servername: string }).servername, "localhost");
  });
});

describe("isLoopback", () => {
  test("localhost (any case, and its subdomains), ::1 and 127.0.0.0/8", () => {
    for (const host of ["localhost", "LocalHost", "a.localhost", "A.B.LOCALHOST", "::1", "127.0.0.1", "127.255.1.2"])
      assert.equal(isLoopback(host), true, host);
  });

  test("nothing else", () => {
    for (const host of [
      "localhost.example.com",
      "xlocalhost",
      "128.0.0.1",
      "1.127.0.0",
      "127.example.com",
      "::2",
      "example.com",
      "0.0.0.0",
    ]) {
      assert.equal(isLoopback(host), false, host);
    }
  });
});

describe("smtpTransport", () => {
  let smtp: TestSmtp;
  before(async () => {
    smtp = await startSmtp();
  });
  after(async () => {
    await smtp.close();
  });

  test("hands the mail to a real SMTP server, with the URL's credentials: both parts, the envelope and the headers", async () => {
    const transport = smtpTransport(smtp.url);
    assert.equal(transport.kind, "smtp");
    const before = smtp.received.length;
    await transport.send("row-1", MESSAGE);
    transport.close();
    const [mail] = smtp.received.slice(before);
    assert.deepEqual(mail!.to, ["ada@example.com"]);
    assert.equal(mail!.from, "no-reply@localhost");
    assert.equal(mail!.subject, MESSAGE.subject);
    assert.equal(mail!.text.trim(), MESSAGE.text.trim());
    assert.equal(mail!.html.trim(), MESSAGE.html);
  });

  test("a refusal rejects (to be retried) with a code the failure code keeps, never the server's text", async () => {
    const transport = smtpTransport(smtp.url);
    smtp.refuseNext(1);
    const error = await transport.send("row-2", MESSAGE).then(
      () => assert.fail("expected a rejection"),
      (e: unknown) => e,
    );
    transport.close();
    assert.match(failureCode(error), /^[A-Z]+ 451$/);
    const wrong = smtpTransport(smtp.url.replace(SMTP_PASSWORD, "not-the-password"));
    const auth = await wrong.send("row-3", MESSAGE).then(
      () => assert.fail("expected a rejection"),
      (e: unknown) => e,
    );
    wrong.close();
    assert.equal(failureCode(auth), "EAUTH 535");
    assert.ok(smtp.url.includes(SMTP_USER));
  });
});

describe("fileTransport", () => {
  test("each mail is <dir>/<id>.eml, the directory made owner-only, the file 0600; a retry rewrites it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tokenver-mail-unit-"));
    try {
      const target = join(dir, "a", "b");
      const transport = fileTransport(target);
      assert.equal(transport.kind, "file");
      await transport.send("mail-1", MESSAGE);
      await transport.send("mail-1", { ...MESSAGE, subject: "Second try" });
      transport.close();
      assert.deepEqual(readdirSync(target), ["mail-1.eml"]);
      assert.equal(statSync(target).mode & 0o777, 0o700);
      const file = join(target, "mail-1.eml");
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const parsed = await simpleParser(readFileSync(file));
      assert.equal(parsed.subject, "Second try", "written again, not appended");
      assert.equal(readFileSync(file, "utf8").match(/^Subject:/gm)?.length, 1);
      assert.ok(!readFileSync(file, "utf8").includes("\r"), "Unix line ends, for a developer's editor");
      assert.deepEqual(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value.map((a) => a.address) : [], ["ada@example.com"]);
      assert.equal(parsed.text?.trim(), MESSAGE.text.trim());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("customTransport", () => {
  test("hands the library user's sendMail a copy of the message, and its rejection on", async () => {
    const got: MailMessage[] = [];
    const transport = customTransport(async (m) => void got.push(m));
    assert.equal(transport.kind, "custom");
    await transport.send("id", MESSAGE);
    assert.deepEqual(got, [MESSAGE]);
    assert.notEqual(got[0], MESSAGE, "a copy: the caller's changes cannot reach the outbox's object");
    transport.close();
    const failing = customTransport(async () => {
      throw Object.assign(new Error("nope"), { code: "ECUSTOM" });
    });
    await assert.rejects(failing.send("id", MESSAGE), { code: "ECUSTOM" });
  });
});

describe("failureCode", () => {
  test("a code of capitals, digits and _ (1 to 32), with the SMTP response code when there is one", () => {
    assert.equal(failureCode({ code: "EAUTH", responseCode: 535 }), "EAUTH 535");
    assert.equal(failureCode({ code: "ECONNREFUSED" }), "ECONNREFUSED");
    assert.equal(failureCode({ code: "A".repeat(32) }), "A".repeat(32));
    assert.equal(failureCode({ code: "E_1" }), "E_1");
  });

  test("anything else is ERROR: never a text that could quote an address or a password", () => {
    for (const code of [
      "",
      "A".repeat(33),
      "eauth",
      "EAUTH user@example.com",
      "xEAUTH",
      "EAUTH x",
      "E-AUTH",
      535,
      null,
      undefined,
      { toString: () => "EAUTH" },
    ]) {
      assert.equal(failureCode({ code, message: "550 <ada@example.com> no such user" }), "ERROR", String(code));
    }
    assert.equal(failureCode({ code: "bad code", responseCode: 550 }), "ERROR 550");
    assert.equal(failureCode({ responseCode: "550 <ada@example.com>" }), "ERROR");
    for (const error of [null, undefined, "550 <ada@example.com>", 42, new Error("550 <ada@example.com>")]) {
      assert.equal(failureCode(error), "ERROR", String(error));
    }
  });
});
