import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../support/browser.js";
import { freePort } from "../support/process.js";
import { startServer, uniqueEmail, type TestServer } from "../support/server.js";

const PASSWORD = "a long and unguessable passphrase";

/**
 * The account page in a real Chromium, against a real server in cookie mode (docs/api.md section 6):
 * tokens never reach script, two tabs share one session and stay signed in through a refresh, and
 * a sign-out in one tab is seen by the other.
 */
describe("the account page in Chromium", () => {
  let server: TestServer;
  let browser: Browser;
  // The server's clock, moved forward to expire the access cookie's token while the page is open.
  let skewMs = 0;

  before(async () => {
    const port = await freePort();
    server = await startServer({ port, publicUrl: `http://127.0.0.1:${port}`, clock: () => Date.now() + skewMs });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function openPage(context: BrowserContext, path = "/account"): Promise<{ page: Page; problems: string[] }> {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error" && !/401|403/.test(message.text())) problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));
    await page.goto(server.url + path);
    return { page, problems };
  }

  async function signUp(page: Page, email: string): Promise<void> {
    await page.locator("#sign-up input[name=email]").fill(email);
    await page.locator("#sign-up input[name=password]").fill(PASSWORD);
    await page.locator("#sign-up button[type=submit]").click();
    await page.locator("#who").waitFor();
  }

  test("signing up keeps every token out of script, with the page's strict policy", async () => {
    const context = await browser.newContext();
    try {
      const { page, problems } = await openPage(context);
      const response = await page.request.get(server.url + "/account");
      assert.match(response.headers()["content-security-policy"] ?? "", /frame-ancestors 'none'/);
      const email = uniqueEmail();
      await signUp(page, email);
      assert.match((await page.locator("#who").textContent()) ?? "", new RegExp(email.replace(/[.+]/g, "\\$&")));
      const cookies = await context.cookies();
      const byName = Object.fromEntries(cookies.map((c) => [c.name, c]));
      assert.equal(byName["__Host-tokenver-access"]?.httpOnly, true);
      assert.equal(byName["__Secure-tokenver-refresh"]?.httpOnly, true);
      assert.equal(byName["__Host-tokenver-csrf"]?.httpOnly, false);
      const visible = await page.evaluate<string>("document.cookie");
      assert.doesNotMatch(visible, /tokenver-access|tokenver-refresh/);
      assert.match(visible, /__Host-tokenver-csrf=/);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test("two tabs stay signed in through an expired access token, and sign out together", async () => {
    const context = await browser.newContext();
    try {
      const { page: first } = await openPage(context);
      await signUp(first, uniqueEmail());
      const { page: second } = await openPage(context);
      await second.locator("#who").waitFor();
      skewMs = 3_600_000; // both tabs' access token is now expired for the server
      try {
        // Both tabs reload at once: each refreshes (one at a time through the Web Lock) and shows the account.
        await Promise.all([first.reload(), second.reload()]);
        await Promise.all([first.locator("#who").waitFor(), second.locator("#who").waitFor()]);
      } finally {
        skewMs = 0;
      }
      await first.locator("#sign-out-everywhere").click();
      await first.locator("#sign-in").waitFor();
      await second.reload();
      await second.locator("#sign-in").waitFor();
      const names = (await context.cookies()).map((c) => c.name);
      assert.deepEqual(names, [], `cookies left after sign-out: ${names.join(", ")}`);
    } finally {
      await context.close();
    }
  });

  test("a password change keeps this tab signed in and signs the other browser out", async () => {
    const email = uniqueEmail();
    const mine = await browser.newContext();
    const theirs = await browser.newContext();
    try {
      const { page } = await openPage(mine);
      await signUp(page, email);
      const { page: other } = await openPage(theirs);
      await other.locator("#sign-in input[name=email]").fill(email);
      await other.locator("#sign-in input[name=password]").fill(PASSWORD);
      await other.locator("#sign-in button[type=submit]").click();
      await other.locator("#who").waitFor();

      await page.locator("#password input[name=current]").fill(PASSWORD);
      await page.locator("#password input[name=next]").fill("another long and unguessable passphrase");
      await page.locator("#password button[type=submit]").click();
      await page.getByText("Password changed").waitFor();
      await page.reload();
      await page.locator("#who").waitFor();
      await other.reload();
      await other.locator("#sign-in").waitFor();
    } finally {
      await mine.close();
      await theirs.close();
    }
  });

  test("a wrong password says so and signs nobody in", async () => {
    const context = await browser.newContext();
    try {
      const { page } = await openPage(context);
      await page.locator("#sign-in input[name=email]").fill(uniqueEmail());
      await page.locator("#sign-in input[name=password]").fill("not the password at all");
      await page.locator("#sign-in button[type=submit]").click();
      await page.locator("#status").getByText("Invalid credentials").waitFor();
      assert.deepEqual(await context.cookies(), []);
    } finally {
      await context.close();
    }
  });

  test("sign out everywhere on one device: the other's next action lands on the sign-in form with the reason", async () => {
    const email = uniqueEmail();
    const laptop = await browser.newContext();
    const phone = await browser.newContext();
    try {
      const { page } = await openPage(laptop);
      await signUp(page, email);
      const { page: other } = await openPage(phone);
      await other.locator("#sign-in input[name=email]").fill(email);
      await other.locator("#sign-in input[name=password]").fill(PASSWORD);
      await other.locator("#sign-in button[type=submit]").click();
      await other.locator("#who").waitFor();

      await page.locator("#sign-out-everywhere").click();
      await page.locator("#sign-in").waitFor();
      // The phone still shows the account; its next action is refused and says why.
      await other.locator("#profile input[name=username]").fill("still here?");
      await other.locator("#profile button[type=submit]").click();
      await other.locator("#sign-in").waitFor();
      await other.locator("#status").getByText("You were signed out: this session was ended").waitFor();
    } finally {
      await laptop.close();
      await phone.close();
    }
  });

  test("a page of another origin cannot make a cookie-authenticated change", async () => {
    // Another local site: localhost is not 127.0.0.1 for cookies (SameSite) nor for CORS.
    const attacker = createServer((_request, response) => {
      response.setHeader("content-type", "text/html");
      response.end(`<!doctype html><body><form id="f" method="POST" action="${server.url}/profile" enctype="text/plain">
<input name='{"username":"pwned","x":"' value='"}'></form><script>
fetch("${server.url}/profile", { method: "PATCH", credentials: "include", headers: { "content-type": "application/json", "x-csrf-token": "guess" }, body: '{"username":"pwned"}' }).catch(() => {});
fetch("${server.url}/logout", { method: "POST", mode: "no-cors", credentials: "include", headers: { "content-type": "text/plain" }, body: "{}" }).catch(() => {});
setTimeout(() => document.getElementById("f").submit(), 300);
</script></body>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
    const context = await browser.newContext();
    try {
      const { page } = await openPage(context);
      await signUp(page, uniqueEmail());
      const evil = await context.newPage();
      await evil.goto(`http://localhost:${(attacker.address() as AddressInfo).port}/`);
      await evil.waitForTimeout(1_000);
      // Nothing changed and nothing was revoked: the account page still shows the same account.
      await page.reload();
      await page.locator("#who").waitFor();
      assert.equal(await page.locator("#profile input[name=username]").inputValue(), "");
    } finally {
      await context.close();
      attacker.close();
    }
  });
});
