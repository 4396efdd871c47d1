import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "../support/databases.js";
import { countMail, linkToken, mailTo, VERIFY } from "../support/recovery-mail.js";
import { startServer, uniqueEmail, type TestServer } from "../support/server.js";
import { startSmtp, type TestSmtp } from "../support/smtp.js";
import { totpAt } from "../support/totp.js";

// Email verification, its resend, and the email change with its cancel link (docs/api.md
// section 8), over real HTTP and a real SMTP server; links are taken from the mails.
const BASE = "http://127.0.0.1:3999";
const CHANGE_NOTICE = "Your email address is about to change";
const CHANGED = "Your email address was changed";

for (const dialect of dialects()) {
  describe(`email verification and change (${dialect})`, () => {
    let smtp: TestSmtp;
    let server: TestServer;

    before(async () => {
      smtp = await startSmtp();
      server = await startServer({ dialect, smtpUrl: smtp.url, publicUrl: BASE, rateLimit: { accountFailures: 3 } });
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    const verifyToken = async (email: string, n = 1) => linkToken(await mailTo(smtp, email, VERIFY, n), BASE, "/account/verify");

    async function types(userId: string): Promise<string[]> {
      await server.auth.flushEvents();
      return (await server.auth.listEvents({ userId })).events.map((e: { type: string }) => e.type);
    }

    test("registration mails a verification link; POST /email/verify answers the verified user, once", async () => {
      const user = await server.api.register();
      assert.equal((user.user as any).email_verified, false);
      assert.equal((await server.api.get("/profile", user.access)).body.email_verified, false);
      const token = await verifyToken(user.email);
      const response = await server.api.post("/email/verify", { token });
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.id, user.user.id);
      assert.equal(response.body.email_verified, true);
      assert.equal(response.body.token_version, 0, "verifying is no revocation");
      assert.equal((await server.api.get("/profile", user.access)).body.email_verified, true);
      const again = await server.api.post("/email/verify", { token });
      assert.equal(again.status, 400);
      assert.equal(again.body.code, "link_invalid");
    });

    test("resend: the same 202 for unverified, verified and unknown addresses; only the unverified one gets a fresh link", async () => {
      const unverified = await server.api.register();
      const verified = await server.api.register();
      assert.equal((await server.api.post("/email/verify", { token: await verifyToken(verified.email) })).status, 200);
      const first = await verifyToken(unverified.email);
      const answers = await Promise.all(
        [unverified.email, verified.email, uniqueEmail()].map((email) => server.api.post("/email/verify/resend", { email })),
      );
      for (const a of answers) {
        assert.equal(a.status, 202);
        assert.equal(a.text, answers[0]!.text);
      }
      const fresh = await verifyToken(unverified.email, 2);
      await server.auth.settleMail();
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(countMail(smtp, verified.email, VERIFY), 1, "a verified account gets no new link");
      assert.equal((await server.api.post("/email/verify", { token: first })).body.code, "link_invalid", "superseded");
      assert.equal((await server.api.post("/email/verify", { token: fresh })).status, 200);
    });

    test("resend is throttled per email (429)", async () => {
      const email = uniqueEmail();
      for (let i = 0; i < 3; i++) assert.equal((await server.api.post("/email/verify/resend", { email })).status, 202);
      const limited = await server.api.post("/email/verify/resend", { email });
      assert.equal(limited.status, 429);
      assert.equal(limited.body.code, "rate_limited");
    });

    test("email change: link to the new address, cancel link to the old; confirming switches, revokes and tells the old address", async () => {
      const user = await server.api.register();
      const other = await server.api.login(user.email, user.password);
      const newEmail = uniqueEmail();
      const wrong = await server.api.post("/email", { new_email: newEmail, password: "not the password at all" }, user.access);
      assert.equal(wrong.status, 403);
      assert.equal(wrong.body.code, "invalid_credentials");
      const taken = await server.api.post(
        "/email",
        { new_email: (await server.api.register()).email, password: user.password },
        user.access,
      );
      assert.equal(taken.status, 409);
      assert.equal(taken.body.code, "email_taken");
      const accepted = await server.api.post("/email", { new_email: newEmail, password: user.password, code: "123456" }, user.access);
      assert.equal(accepted.status, 202, accepted.text);
      const notice = await mailTo(smtp, user.email, CHANGE_NOTICE);
      assert.match(notice.text, new RegExp(`^${BASE}/account/cancel-email#token=[A-Za-z0-9_-]{43}$`, "m"));
      const token = await verifyToken(newEmail);
      // Nothing changed yet.
      assert.equal((await server.api.get("/profile", user.access)).body.email, user.email);
      const confirmed = await server.api.post("/email/verify", { token });
      assert.equal(confirmed.status, 200, confirmed.text);
      assert.equal(confirmed.body.email, newEmail);
      assert.equal(confirmed.body.email_verified, true);
      assert.equal(confirmed.body.token_version, 1);
      for (const access of [user.access, other.access]) assert.equal((await server.api.get("/profile", access)).body.code, "token_revoked");
      await mailTo(smtp, user.email, CHANGED);
      assert.equal((await server.api.post("/login", { email: user.email, password: user.password })).status, 401);
      await server.api.login(newEmail, user.password);
      // The cancel link died with the version change.
      const cancel = linkToken(notice, BASE, "/account/cancel-email");
      assert.equal((await server.api.post("/email/cancel", { token: cancel })).body.code, "link_invalid");
      const recorded = await types(user.user.id);
      assert.ok(recorded.includes("email.change_requested") && recorded.includes("email.changed"), recorded.join());
      // The old address is free again.
      await server.api.register(user.email);
    });

    test("email change: an address registered before the confirmation is 409 email_taken, and nothing changes", async () => {
      const user = await server.api.register();
      const newEmail = uniqueEmail();
      assert.equal((await server.api.post("/email", { new_email: newEmail, password: user.password }, user.access)).status, 202);
      const token = await verifyToken(newEmail);
      await server.api.register(newEmail);
      const response = await server.api.post("/email/verify", { token });
      assert.equal(response.status, 409);
      assert.equal(response.body.code, "email_taken");
      const profile = await server.api.get("/profile", user.access);
      assert.equal(profile.status, 200, "no revocation happened");
      assert.equal(profile.body.email, user.email);
    });

    test("the cancel link kills the pending change and revokes every session", async () => {
      const user = await server.api.register();
      const newEmail = uniqueEmail();
      assert.equal((await server.api.post("/email", { new_email: newEmail, password: user.password }, user.access)).status, 202);
      const cancel = linkToken(await mailTo(smtp, user.email, CHANGE_NOTICE), BASE, "/account/cancel-email");
      const token = await verifyToken(newEmail);
      const response = await server.api.post("/email/cancel", { token: cancel });
      assert.equal(response.status, 204, response.text);
      assert.equal((await server.api.get("/profile", user.access)).body.code, "token_revoked");
      assert.equal((await server.api.post("/email/verify", { token })).body.code, "link_invalid");
      assert.equal((await server.api.post("/email/cancel", { token: cancel })).body.code, "link_invalid");
      const signIn = await server.api.login(user.email, user.password);
      assert.equal((await server.api.get("/profile", signIn.access)).body.email, user.email);
      assert.ok((await types(user.user.id)).includes("email.change_cancelled"));
    });

    test("a newer email change supersedes the pending one", async () => {
      const user = await server.api.register();
      const [first, second] = [uniqueEmail(), uniqueEmail()];
      for (const e of [first, second]) {
        assert.equal((await server.api.post("/email", { new_email: e, password: user.password }, user.access)).status, 202);
      }
      assert.equal((await server.api.post("/email/verify", { token: await verifyToken(first) })).body.code, "link_invalid");
      assert.equal((await server.api.post("/email/verify", { token: await verifyToken(second) })).body.email, second);
    });

    test("with a second factor on, POST /email needs its code (403 code_invalid without or wrong); a recovery code works once", async () => {
      const user = await server.api.register();
      const { secret } = (await server.api.post("/mfa/totp", undefined, user.access)).body;
      const on = await server.api.post("/mfa/totp/confirm", { code: totpAt(secret, Date.now()), password: user.password }, user.access);
      assert.equal(on.status, 200, on.text);
      const access: string = on.body.access ?? user.access;
      const recoveryCode: string = on.body.recovery_codes[0];
      const newEmail = uniqueEmail();
      for (const code of [undefined, "000000", "not-a-code"]) {
        const r = await server.api.post(
          "/email",
          { new_email: newEmail, password: user.password, ...(code === undefined ? {} : { code }) },
          access,
        );
        assert.equal(r.status, 403, r.text);
        assert.equal(r.body.code, "code_invalid");
      }
      const accepted = await server.api.post("/email", { new_email: newEmail, password: user.password, code: recoveryCode }, access);
      assert.equal(accepted.status, 202, accepted.text);
      const reused = await server.api.post("/email", { new_email: uniqueEmail(), password: user.password, code: recoveryCode }, access);
      assert.equal(reused.body.code, "code_invalid", "a recovery code works once");
      assert.equal((await server.api.post("/email/verify", { token: await verifyToken(newEmail) })).body.email, newEmail);
    });

    test("5 wrong passwords on POST /email revoke the session and mail the user", async () => {
      const user = await server.api.register();
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await server.api.post("/email", { new_email: uniqueEmail(), password: `wrong guess number ${i}` }, user.access);
        statuses.push(r.status);
      }
      assert.deepEqual(statuses, [403, 403, 403, 403, 401]);
      assert.equal((await server.api.get("/profile", user.access)).body.code, "token_revoked");
      await mailTo(smtp, user.email, "A session of your account was signed out");
    });
  });
}
