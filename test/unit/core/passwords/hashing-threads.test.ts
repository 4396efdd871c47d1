// src/core/passwords/hashing-threads.ts: argon2 runs on tokenver's own threads, scheduled as batch
// work on Linux, at most `maxThreads` of them; a script that hashes neither hangs nor exits early.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { AuthError } from "../../../../src/core/errors.js";
import { hashJobsInFlight, hashThreadCount, onHashThread, stopHashThreads } from "../../../../src/core/passwords/hashing-threads.js";
import { HASH_QUEUE_RETRY_AFTER, hashPassword, verifyPassword } from "../../../../src/core/passwords/hashing.js";

/** The scheduling policy of each thread of this process (Linux: 0 normal, 3 batch). */
function policies(): Map<string, number> {
  const found = new Map<string, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    const policy = /policy\s*:\s*(\d+)/.exec(readFileSync(`/proc/self/task/${tid}/sched`, "utf8"))?.[1];
    if (policy !== undefined) found.set(tid, Number(policy));
  }
  return found;
}

const SCHED_BATCH = 3;
const hasChrt = process.platform === "linux" && spawnSync("chrt", ["--version"]).status === 0;

describe("hashing threads", () => {
  test("hash and verify give argon2id's answers: right, wrong, and a malformed hash is a wrong password", async () => {
    const hash = await hashPassword("correct horse");
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await verifyPassword(hash, "correct horse"), true);
    assert.equal(await verifyPassword(hash, "correct horsE"), false);
    assert.equal(await verifyPassword("not a hash", "correct horse"), false);
    await assert.rejects(onHashThread(1, "verify", ["not a hash", "x"]), /./);
  });

  test("no more threads than asked for, however many hashes are in flight", async () => {
    const hash = await hashPassword("p");
    const before = hashThreadCount();
    assert.ok(before >= 1);
    const answers = await Promise.all(Array.from({ length: 4 }, () => onHashThread<boolean>(1, "verify", [hash, "p"])));
    assert.deepEqual(answers, [true, true, true, true]);
    assert.equal(hashThreadCount(), before);
  });

  test(
    "the hashing runs off the main thread, on a thread scheduled as batch work (Linux with chrt)",
    { skip: !hasChrt && process.env.CI !== "true" && "needs Linux and chrt (util-linux)" },
    async () => {
      await hashPassword("p");
      // chrt runs asynchronously once per thread; give it a moment.
      let batch: string[] = [];
      for (let i = 0; i < 50 && batch.length === 0; i++) {
        batch = [...policies()].filter(([, policy]) => policy === SCHED_BATCH).map(([tid]) => tid);
        if (batch.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(batch.length, hashThreadCount());
      assert.ok(!batch.includes(String(process.pid)), "the main thread keeps its policy");
      assert.equal(policies().get(String(process.pid)), 0);
    },
  );

  test("a script that only hashes prints its answer and exits: threads hold the process only while they work", () => {
    const script = `
      import { hashPassword, verifyPassword } from "./src/core/passwords/hashing.ts";
      const hash = await hashPassword("p");
      console.log(await verifyPassword(hash, "p"));`;
    const started = performance.now();
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(out.trim(), "true");
    assert.ok(performance.now() - started < 15_000);
  });
});

describe("a hashing thread that dies", () => {
  test("fails its job as 503 service_unavailable with a retry, never as a wrong password; the next job gets a new thread", async () => {
    const hash = await hashPassword("correct horse");
    const verifying = verifyPassword(hash, "correct horse");
    assert.equal(hashJobsInFlight(), 1);
    await stopHashThreads();
    await assert.rejects(verifying, (error: unknown) => {
      assert.ok(error instanceof AuthError);
      assert.equal(error.code, "service_unavailable");
      assert.equal(error.retryAfter, HASH_QUEUE_RETRY_AFTER);
      return true;
    });
    assert.equal(hashJobsInFlight(), 0);
    assert.equal(await verifyPassword(hash, "correct horse"), true);
    assert.equal(await verifyPassword(hash, "wrong horse"), false);
  });
});
