import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "../support/databases.js";
import { countMail, linkToken, mailTo, RESET, VERIFY } from "../support/recovery-mail.js";
import { startServer, uniqueEmail, type TestServer } from "../support/server.js";
import { startSmtp, type TestSmtp } from "../support/smtp.js";

// POST /password/forgot and POST /password/reset (docs/api.md section 8) over real HTTP, with the
// mail received by a real SMTP server and the link taken from its plain-text part.
const BASE = "https://auth.example.test/app";
const NEW_PASSWORD = "an entirely different passphrase";

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

for (const dialect of dialects()) {
  describe(`password reset (${dialect})`, () => {
    let smtp: TestSmtp;
    let server: TestServer;
    let offset = 0;

    before(async () => {
      smtp = await startSmtp();
      server = await startServer({
        dialect,
        smtpUrl: smtp.url,
        publicUrl: BASE,
        clock: () => Date.now() + offset,
        rateLimit: { accountFailures: 3, addressFailures: 80 },
      });
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    async function forgot(email: string) {
      const response = await server.api.post("/password/forgot", { email });
      assert.equal(response.status, 202, response.text);
      return response;
    }

    async function resetLink(email: string, n = 1): Promise<string> {
      return linkToken(await mailTo(smtp, email, RESET, n), BASE, "/account/reset");
    }

    test("forgot: the same 202 and body for known and unknown accounts; the link goes to the stored address", async () => {
      const user = await server.api.register();
      const known = await forgot(`  ${user.email.toUpperCase()} `);
      const unknown = await forgot(uniqueEmail());
      assert.deepEqual(known.body, unknown.body);
      assert.equal(known.text, unknown.text);
      assert.equal(known.headers.get("content-type"), unknown.headers.get("content-type"));
      const mail = await mailTo(smtp, user.email, RESET);
      assert.deepEqual(mail.to, [user.email]);
      assert.match(mail.text, new RegExp(`^${BASE.replace(/[.]/g, "\\.")}/account/reset#token=[A-Za-z0-9_-]{43}$`, "m"));
      assert.equal(linkToken(mail, BASE, "/account/reset").length, 43);
    });

    test("forgot: about the same time whether or not the account exists (medians within a factor of two)", async () => {
      const users = await Promise.all([0, 1, 2, 3].map(() => server.api.register()));
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 12; i++) {
        for (const [list, email] of [
          [known, users[i % 4]!.email],
          [unknown, uniqueEmail()],
        ] as const) {
          const started = performance.now();
          const response = await server.api.post("/password/forgot", { email });
          list.push(performance.now() - started);
          assert.equal(response.status, 202);
          // The answer is what is timed: the work after it (the link, the mail) ends before the next request.
          await server.auth.settleMail();
        }
      }
      const [k, u] = [median(known), median(unknown)];
      assert.ok(Math.max(k, u) / Math.min(k, u) < 2 || Math.abs(k - u) < 5, `known ${k.toFixed(2)} ms vs unknown ${u.toFixed(2)} ms`);
    });

    test("reset: 204, every token and session dies, the new password works, a notice is mailed, the address is verified", async () => {
      const user = await server.api.register();
      const second = await server.api.login(user.email, user.password);
      await forgot(user.email);
      const token = await resetLink(user.email);
      const response = await server.api.post("/password/reset", { token, new_password: NEW_PASSWORD });
      assert.equal(response.status, 204, response.text);
      assert.equal(response.text, "");
      for (const access of [user.access, second.access]) {
        const r = await server.api.get("/profile", access);
        assert.equal(r.status, 401);
        assert.equal(r.body.code, "token_revoked");
      }
      const refresh = await server.api.post("/token/refresh", { refresh: user.refresh });
      assert.equal(refresh.status, 401);
      assert.equal((await server.api.post("/login", { email: user.email, password: user.password })).status, 401);
      const signIn = await server.api.login(user.email, NEW_PASSWORD);
      assert.equal(signIn.user.token_version, 1);
      assert.equal((signIn.user as any).email_verified, true);
      await mailTo(smtp, user.email, "Your password was reset");
      const again = await server.api.post("/password/reset", { token, new_password: "yet another passphrase here" });
      assert.equal(again.status, 400);
      assert.equal(again.body.code, "link_invalid");
      await server.auth.flushEvents();
      const types = (await server.auth.listEvents({ userId: user.user.id })).events.map((e: { type: string }) => e.type);
      assert.ok(types.includes("password.reset_requested"), types.join());
      assert.ok(types.includes("password.reset"), types.join());
    });

    test("reset: the password policy applies, and a refused password leaves the link usable", async () => {
      const user = await server.api.register();
      await forgot(user.email);
      const token = await resetLink(user.email);
      const weak = await server.api.post("/password/reset", { token, new_password: "short" });
      assert.equal(weak.status, 400);
      assert.equal(weak.body.code, "validation_failed");
      assert.equal(weak.body.errors[0].field, "new_password");
      assert.equal((await server.api.post("/password/reset", { token, new_password: NEW_PASSWORD })).status, 204);
    });

    test("reset: two resets with one link at once, exactly one 204", async () => {
      for (let round = 0; round < 3; round++) {
        const user = await server.api.register();
        await forgot(user.email);
        const token = await resetLink(user.email);
        const results = await Promise.all(
          ["first passphrase of the race", "second passphrase of the race"].map((p) =>
            server.api.post("/password/reset", { token, new_password: p }),
          ),
        );
        const statuses = results.map((r) => r.status).sort();
        assert.deepEqual(statuses, [204, 400], results.map((r) => r.text).join(" | "));
        assert.equal(results.find((r) => r.status === 400)!.body.code, "link_invalid");
        const winner = results.findIndex((r) => r.status === 204);
        await server.api.login(user.email, ["first passphrase of the race", "second passphrase of the race"][winner]!);
      }
    });

    test("a reset racing a password change: exactly one wins, nothing half-applied", async () => {
      for (let round = 0; round < 3; round++) {
        const user = await server.api.register();
        await forgot(user.email);
        const token = await resetLink(user.email);
        const [reset, change] = await Promise.all([
          server.api.post("/password/reset", { token, new_password: "the passphrase of the reset" }),
          server.api.post("/password", { current_password: user.password, new_password: "the passphrase of the change" }, user.access),
        ]);
        const won = [reset.status === 204, change.status === 200];
        assert.equal(won.filter(Boolean).length, 1, `${reset.status} ${reset.text} | ${change.status} ${change.text}`);
        // The change lost: its token was revoked, or it already saw the reset's password (403).
        if (won[0]) assert.ok(["token_revoked", "invalid_credentials"].includes(change.body.code), change.text);
        else assert.equal(reset.body.code, "link_invalid");
        const winner = won[0] ? "the passphrase of the reset" : "the passphrase of the change";
        const signIn = await server.api.login(user.email, winner);
        assert.equal(signIn.user.token_version, 1, "one revocation, not two");
      }
    });

    test("a newer link supersedes the older", async () => {
      const user = await server.api.register();
      await forgot(user.email);
      const older = await resetLink(user.email, 1);
      await forgot(user.email);
      const newer = await resetLink(user.email, 2);
      const stale = await server.api.post("/password/reset", { token: older, new_password: NEW_PASSWORD });
      assert.equal(stale.body.code, "link_invalid");
      assert.equal((await server.api.post("/password/reset", { token: newer, new_password: NEW_PASSWORD })).status, 204);
    });

    test("a link dies when the token version changes (logout everywhere)", async () => {
      const user = await server.api.register();
      await forgot(user.email);
      const token = await resetLink(user.email);
      assert.equal((await server.api.post("/logout", {}, user.access)).status, 204);
      const response = await server.api.post("/password/reset", { token, new_password: NEW_PASSWORD });
      assert.equal(response.status, 400);
      assert.equal(response.body.code, "link_invalid");
    });

    test("bad tokens: unknown, truncated, padded, other purpose: 400 link_invalid", async () => {
      const user = await server.api.register();
      const verifyToken = linkToken(await mailTo(smtp, user.email, VERIFY), BASE, "/account/verify");
      await forgot(user.email);
      const token = await resetLink(user.email);
      for (const bad of ["x".repeat(43), token.slice(0, 42), `${token}A`, "", verifyToken]) {
        const response = await server.api.post("/password/reset", { token: bad, new_password: NEW_PASSWORD });
        assert.equal(response.status, 400, bad);
        assert.equal(response.body.code, "link_invalid", response.text);
      }
      // The reset link is no verification link either.
      assert.equal((await server.api.post("/email/verify", { token })).body.code, "link_invalid");
      assert.equal((await server.api.post("/password/reset", { token, new_password: NEW_PASSWORD })).status, 204);
    });

    test("a disabled account gets no reset mail", async () => {
      const user = await server.api.register();
      await server.auth.disableUser(user.user.id);
      await forgot(user.email);
      await server.auth.settleMail();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(countMail(smtp, user.email, RESET), 0);
    });

    test("forgot is throttled per email and per client address (429 with Retry-After), known or not", async () => {
      for (const email of [(await server.api.register()).email, uniqueEmail()]) {
        for (let i = 0; i < 3; i++) await forgot(email);
        const limited = await server.api.post("/password/forgot", { email });
        assert.equal(limited.status, 429);
        assert.equal(limited.body.code, "rate_limited");
        assert.ok(Number(limited.headers.get("retry-after")) >= 1);
      }
      const ip = "203.0.113.77";
      let refused = 0;
      for (let i = 0; i < 81; i++) {
        try {
          await server.auth.forgotPassword({ email: uniqueEmail() }, { ip });
        } catch (error) {
          assert.equal((error as { code?: string }).code, "rate_limited");
          refused++;
        }
      }
      assert.equal(refused, 1);
    });

    test("a link expires after TOKENVER_RESET_TTL (injected clock)", async () => {
      const user = await server.api.register();
      await forgot(user.email);
      const token = await resetLink(user.email);
      offset = 1801 * 1000;
      try {
        const response = await server.api.post("/password/reset", { token, new_password: NEW_PASSWORD });
        assert.equal(response.status, 400);
        assert.equal(response.body.code, "link_invalid");
      } finally {
        offset = 0;
      }
    });
  });
}
