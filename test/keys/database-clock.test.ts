import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { createTestDatabase, dialects, type TestDatabase } from "../support/databases.js";
import { cleanEnv, runCli } from "../support/process.js";
import { startServer, TEST_SECRET, type TestServer } from "../support/server.js";
import { decodePart } from "../support/tokens-forge.js";

// docs/keys.md, "Clocks": on PostgreSQL every decision about keys, and every date written on them,
// is taken on the database's clock. The key commands run here as real CLI processes on hosts whose
// clock is off: libfaketime (Debian's `faketime`; .ci/run installs it) sets their clock an hour
// back or three days ahead, while the server and PostgreSQL keep the right time. Under CI=true a
// missing libfaketime fails; elsewhere the suite is skipped with the reason.

const LIBFAKETIME = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"]
  .map((dir) => `${dir}/faketime/libfaketime.so.1`)
  .find((path) => existsSync(path));
const skip = LIBFAKETIME === undefined ? "libfaketime is not installed: apt-get install -y faketime" : false;
if (LIBFAKETIME === undefined && process.env.CI === "true") {
  test("libfaketime is installed (CI requires it: apt-get install -y faketime)", () => assert.fail("faketime is missing"));
}

const HOUR = 3_600_000;
const PUBLISH_DELAY = 600;

/** The settings of a host whose clock is `offset` off (libfaketime's FAKETIME: "-1h", "+3d"). */
const offBy = (settings: Record<string, string>, offset: string) => ({
  ...settings,
  LD_PRELOAD: LIBFAKETIME!,
  FAKETIME: offset,
  FAKETIME_DONT_FAKE_MONOTONIC: "1",
});

/** `iso` is within a minute of this process's now (the database's clock, on this host). */
function now(iso: string, what: string) {
  const off = Date.parse(iso) - Date.now();
  assert.ok(Math.abs(off) < 60_000, `${what} (${iso}) is not on the database's clock (off by ${off} ms)`);
}

for (const dialect of dialects().filter((d) => d === "postgres")) {
  describe(`the keys' clock is the database's, whatever the command's host says (${dialect})`, { skip }, () => {
    let database: TestDatabase;
    let server: TestServer;
    let env: Record<string, string>;

    before(async () => {
      database = await createTestDatabase(dialect);
      env = { TOKENVER_DATABASE_URL: database.url, TOKENVER_SECRET: TEST_SECRET, TOKENVER_SIGNING_ALG: "ES256" };
      env.TOKENVER_KEY_PUBLISH_DELAY = String(PUBLISH_DELAY);
      server = await startServer({ dialect, databaseUrl: database.url, signingAlg: "ES256", keyPublishDelay: PUBLISH_DELAY });
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    test("the hosts' clocks really are off (else this suite would prove nothing)", () => {
      for (const [offset, expected] of [
        ["-1h", -HOUR],
        ["+3d", 3 * 24 * HOUR],
      ] as const) {
        const printed = spawnSync(process.execPath, ["-e", "process.stdout.write(String(Date.now()))"], {
          env: cleanEnv(offBy({}, offset)),
          encoding: "utf8",
        });
        assert.ok(Math.abs(Number(printed.stdout) - Date.now() - expected) < 60_000, `${offset}: ${printed.stdout} ${printed.stderr}`);
      }
    });

    test("revoking the only signer from a host an hour behind: a new key, dated by the database, signs at once on the server", async () => {
      const user = await server.api.register();
      const k1 = decodePart(user.access, 0).kid as string;
      const revoked = await runCli(["keys", "revoke", k1], offBy(env, "-1h"));
      assert.equal(revoked.code, 0, revoked.stderr);
      const signer = new RegExp(`revoked ${k1}; (\\S+) signs`).exec(revoked.stdout)![1]!;
      const [key, ...others] = await server.auth.listKeys();
      assert.deepEqual(others, []);
      assert.equal(key!.kid, signer);
      now(key!.createdAt, "its creation");
      now(key!.activateAt, "its activation");
      assert.equal(key!.state, "current");
      assert.equal(decodePart((await server.api.login(user.email, user.password)).access, 0).kid, signer);
    });

    test("a rotation from a host three days ahead is dated by the database: listed there as next, and a later command is not refused", async () => {
      const rotated = await runCli(["keys", "rotate"], offBy(env, "+3d"));
      assert.equal(rotated.code, 0, rotated.stderr);
      const kid = /published (\S+) \(ES256\)/.exec(rotated.stdout)![1]!;
      const key = (await server.auth.listKeys()).find((k) => k.kid === kid)!;
      now(key.createdAt, "its creation");
      now(new Date(Date.parse(key.activateAt) - PUBLISH_DELAY * 1000).toISOString(), "its publication");
      // By that host's own clock the key would sign already; the keys' clock says it waits.
      const listed = await runCli(["keys", "list"], offBy(env, "+3d"));
      assert.equal(listed.code, 0, listed.stderr);
      const states = listed.stdout
        .split("\n")
        .slice(1)
        .filter((line) => line !== "")
        .map((line) => line.split("  ").slice(0, 3));
      const signer = (await server.auth.listKeys()).find((k) => k.state === "current")!.kid;
      assert.deepEqual(states, [
        [signer, "ES256", "current"],
        [kid, "ES256", "next"],
      ]);
      const replaced = await server.auth.rotateKey({ now: true });
      assert.notEqual(replaced.kid, kid);
      now(replaced.activateAt, "the replacement's activation");
    });
  });
}
