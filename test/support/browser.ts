import { chromium, type Browser } from "playwright-core";

/**
 * A real headless Chromium (Debian's, or TOKENVER_TEST_CHROMIUM) driven by playwright-core. The
 * flags keep it off the network it cannot reach here (background services, updates, QUIC).
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.TOKENVER_TEST_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
