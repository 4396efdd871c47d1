import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { parseHistory } from "../../scripts/campaign/history.js";
import { REPO_ROOT } from "../support/process.js";

/**
 * The campaign end to end, briefly (20 s of load): real nodes, a Redis and a database of its own,
 * faults. Needs PostgreSQL (TOKENVER_TEST_DATABASE_URL) and a redis-server on PATH, and runs only
 * when asked (TOKENVER_CAMPAIGN_SMOKE=1): it starts eight processes, and on a busy machine it can
 * outlast the two minutes the test runner gives a file. The nodes run from source
 * (`--server source`), so this checks the code as it is now:
 *
 *   TOKENVER_CAMPAIGN_SMOKE=1 TOKENVER_TEST_DATABASE_URL=postgres://... node --import tsx --test test/campaign/smoke.test.ts
 */
const POSTGRES = process.env.TOKENVER_TEST_DATABASE_URL;
const REDIS_SERVER = spawnSync("redis-server", ["--version"]).status === 0;
const skip =
  process.env.TOKENVER_CAMPAIGN_SMOKE !== "1"
    ? "set TOKENVER_CAMPAIGN_SMOKE=1 (and TOKENVER_TEST_DATABASE_URL) to run the campaign for 20 s"
    : !POSTGRES
      ? "set TOKENVER_TEST_DATABASE_URL"
      : !REDIS_SERVER
        ? "redis-server is not on PATH"
        : false;

function campaign(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "scripts/campaign/run.ts", "--server", "source", "--database-url", POSTGRES!, ...args],
      {
        cwd: REPO_ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("close", (code) => resolve({ code, output }));
  });
}

describe("campaign smoke", { skip, timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tokenver-campaign-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // Short leases and entry lifetimes, so that the settling at the end is short too; the two runs
  // go side by side (the test runner gives a whole file two minutes).
  const common = ["--duration", "20", "--clients", "3", "--lease", "2", "--entry-ttl", "2"];

  test("20 s with faults is clean; 20 s of a broken deployment (a node on a Redis prefix of its own) is caught", async () => {
    const [clean, sabotage] = await Promise.all([
      campaign([...common, "--seed", "11", "--fault-gap", "1-2", "--dir", join(dir, "clean"), "--results", join(dir, "clean.json")]),
      campaign([
        ...common,
        "--seed",
        "12",
        "--no-faults",
        "--sabotage",
        "prefix",
        "--dir",
        join(dir, "sabotage"),
        "--results",
        join(dir, "sabotage.json"),
      ]),
    ]);

    assert.equal(clean.code, 0, clean.output);
    const figures = JSON.parse(readFileSync(join(dir, "clean.json"), "utf8"));
    assert.equal(figures.check.ok, true);
    assert.ok(figures.operations.total > 100, clean.output);
    for (const type of ["register", "login", "refresh", "profile", "logout_session"])
      assert.ok(figures.operations.byType[type] !== undefined, `no ${type} in ${JSON.stringify(figures.operations.byType)}`);
    assert.ok(figures.faults.total >= 1, clean.output);
    const text = readFileSync(join(dir, "clean", "history.jsonl"), "utf8");
    const history = parseHistory(text);
    assert.equal(history.operations.length, figures.operations.total);
    assert.equal(history.faults.length, figures.faults.total);
    // No secret ever reaches the history: no JWT, no refresh token, no password.
    assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}/);
    assert.doesNotMatch(text, /passphrase/);

    assert.equal(sabotage.code, 1, sabotage.output);
    const broken = JSON.parse(readFileSync(join(dir, "sabotage.json"), "utf8"));
    assert.ok(
      broken.check.violations.some((v: { kind: string }) => v.kind === "revoked-token-accepted"),
      sabotage.output,
    );
  });
});
