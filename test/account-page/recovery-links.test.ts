import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import { launchChromium } from "../support/browser.js";
import { freePort } from "../support/process.js";
import { linkIn } from "../support/smtp.js";
import { mailTo, RESET } from "../support/recovery-mail.js";
import { startSmtp, type TestSmtp } from "../support/smtp.js";
import { startServer, uniqueEmail, type TestServer } from "../support/server.js";

const PASSWORD = "a long and unguessable passphrase";
const NEW_PASSWORD = "an entirely new and long passphrase";

/**
 * The page that a reset mail opens (docs/api.md section 8): the token comes in the fragment, leaves
 * the address bar at once, and is posted only after a click, so opening the link uses nothing up.
 */
describe("the account page's reset link, in Chromium", () => {
  let server: TestServer;
  let smtp: TestSmtp;
  let browser: Browser;

  before(async () => {
    smtp = await startSmtp();
    const port = await freePort();
    server = await startServer({ port, publicUrl: `http://127.0.0.1:${port}`, smtpUrl: smtp.url, onWarning: () => {} });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await smtp?.close();
  });

  test("opening the link uses nothing; the click resets the password and the old one stops working", async () => {
    const { email } = await server.api.register(uniqueEmail(), PASSWORD);
    assert.equal((await server.api.post("/password/forgot", { email })).status, 202);
    const link = linkIn(await mailTo(smtp, email, RESET), server.url);
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const posted: string[] = [];
      page.on("request", (request) => {
        if (request.method() === "POST") posted.push(new URL(request.url()).pathname);
      });
      await page.goto(link);
      await page.locator("#reset").waitFor();
      assert.equal(new URL(page.url()).hash, "", "the token left the address bar");
      assert.deepEqual(posted, [], "nothing posted before the click");

      await page.locator("#reset input[name=new_password]").fill(NEW_PASSWORD);
      await page.locator("#reset button[type=submit]").click();
      await page.getByText("Password changed").waitFor();
      assert.deepEqual(posted, ["/password/reset"]);
      assert.equal((await server.api.post("/login", { email, password: PASSWORD })).status, 401);
      assert.equal((await server.api.post("/login", { email, password: NEW_PASSWORD })).status, 200);
    } finally {
      await context.close();
    }
  });
});
