/**
 * Screenshots of the account page for the docs (docs/account-page.md, README): a real server on a
 * fresh SQLite file and Debian's Chromium. Run: `node --import tsx scripts/docs/screenshots.ts`.
 * Writes docs/account-*.png; nothing else.
 */
import { launchChromium } from "../../test/support/browser.js";
import { freePort } from "../../test/support/process.js";
import { startServer } from "../../test/support/server.js";

const port = await freePort();
const server = await startServer({ port, publicUrl: `http://127.0.0.1:${port}` });
const browser = await launchChromium();
try {
  const context = await browser.newContext({ viewport: { width: 720, height: 900 }, userAgent: "Firefox on a laptop" });
  const page = await context.newPage();
  await page.goto(`${server.url}/account`);
  await page.locator("#sign-in").waitFor();
  await page.screenshot({ path: "docs/account-signed-out.png", fullPage: false });
  await page.locator("#sign-up input[name=email]").fill("ada@example.com");
  await page.locator("#sign-up input[name=password]").fill("correct horse battery staple");
  await page.locator("#sign-up button[type=submit]").click();
  await page.locator("#who").waitFor();
  // A second device, so the list shows more than this one.
  await server.api.post("/login", { email: "ada@example.com", password: "correct horse battery staple" });
  await page.reload();
  await page.locator("#who").waitFor();
  await page.screenshot({ path: "docs/account-signed-in.png", fullPage: false });
  await page.locator("#mfa-setup button").click();
  await page.locator("#mfa-setup img").waitFor();
  await page.locator("#mfa-setup").screenshot({ path: "docs/account-second-factor.png" });
  console.log("wrote docs/account-signed-out.png, docs/account-signed-in.png, docs/account-second-factor.png");
} finally {
  await browser.close();
  await server.close();
}
