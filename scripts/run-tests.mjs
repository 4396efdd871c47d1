#!/usr/bin/env node
// Runs the test suite with node:test. PostgreSQL and Redis suites run when their URLs are set
// (TOKENVER_TEST_DATABASE_URL, TOKENVER_TEST_REDIS_URL); otherwise they are skipped and this
// script says so. Under CI=true a missing URL is an error, so those suites can never skip there.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const pgUrl = process.env.TOKENVER_TEST_DATABASE_URL;
const redisUrl = process.env.TOKENVER_TEST_REDIS_URL;
const ci = process.env.CI === "true" || process.env.CI === "1";
if (ci && (!pgUrl || !redisUrl)) {
  console.error("run-tests: CI must set TOKENVER_TEST_DATABASE_URL and TOKENVER_TEST_REDIS_URL");
  process.exit(2);
}

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "support" || name === "fixtures" ? [] : walk(path);
    return path.endsWith(".test.ts") ? [path] : [];
  });
}

const filter = process.argv.slice(2);
let files = walk("test").sort();
// Suites that need both services (several nodes, Redis faults) live in test/scale-out/.
const needsServices = (f) => f.includes(`${join("test", "scale-out")}`);
const skipped = [];
if (!pgUrl || !redisUrl) {
  const before = files.length;
  files = files.filter((f) => !needsServices(f));
  if (files.length !== before)
    skipped.push(`test/scale-out (${before - files.length} files: set TOKENVER_TEST_DATABASE_URL and TOKENVER_TEST_REDIS_URL)`);
}
// The account page's tests drive a real Chromium (Debian's `chromium`; TOKENVER_TEST_CHROMIUM names another).
const chromium = process.env.TOKENVER_TEST_CHROMIUM ?? "/usr/bin/chromium";
const needsChromium = (f) => f.includes(`${join("test", "account-page")}`);
if (!existsSync(chromium)) {
  if (ci) {
    console.error(`run-tests: CI needs Chromium at ${chromium} (apt-get install chromium) for test/account-page`);
    process.exit(2);
  }
  const before = files.length;
  files = files.filter((f) => !needsChromium(f));
  if (files.length !== before)
    skipped.push(`test/account-page (${before - files.length} files: install chromium, or set TOKENVER_TEST_CHROMIUM)`);
}
if (!pgUrl) skipped.push("the PostgreSQL dialect of every store test (set TOKENVER_TEST_DATABASE_URL)");
if (!redisUrl) skipped.push("Redis state tests (set TOKENVER_TEST_REDIS_URL)");
if (filter.length > 0) files = files.filter((f) => filter.some((p) => f.includes(p)));

console.log(`run-tests: ${files.length} test files; PostgreSQL ${pgUrl ? "on" : "off"}, Redis ${redisUrl ? "on" : "off"}`);
for (const s of skipped) console.log(`run-tests: SKIPPED ${s}`);

const result = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=240000", ...files], {
  stdio: "inherit",
  env: process.env,
});
if (skipped.length > 0) console.log(`run-tests: skipped suites: ${skipped.length} (see above)`);
process.exit(result.status ?? 1);
