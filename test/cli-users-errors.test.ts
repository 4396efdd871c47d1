import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "./support/process.js";
import { TEST_SECRET, uniqueEmail } from "./support/server.js";

const PASSWORD = "a long and unguessable passphrase";

/** The real CLI in a process of its own (an empty standard input unless given); resolves once it has exited. */
const cli = async (env: Record<string, string>, args: string[], input?: string) => {
  const { code, stdout, stderr } = await runCli(args, env, input ?? "");
  return { status: code, stdout, stderr };
};

// `tokenver users ...`: its errors (one line on standard error, exit 1; usage errors exit 2) and
// its help, on a SQLite file of the test's own (test/cli-users.test.ts runs it beside a server).
describe("tokenver users: errors and help", () => {
  let dir: string;
  let env: Record<string, string>;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tokenver-cli-errors-"));
    env = { TOKENVER_DATABASE_URL: `sqlite:${join(dir, "cli.db")}`, TOKENVER_SECRET: TEST_SECRET };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("errors: one line on standard error and exit 1; usage errors exit 2", async () => {
    const missing = await cli(env, ["users", "disable", "nobody-here@example.com"]);
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr, 'tokenver: no user with the email "nobody-here@example.com"\n');
    assert.equal(missing.stdout, "");

    const badEmail = await cli(env, ["users", "create", "not-an-email"], `${PASSWORD}\n`);
    assert.equal(badEmail.status, 1);
    assert.match(badEmail.stderr, /^tokenver: email must be a valid email address\n$/);

    const noPassword = await cli(env, ["users", "create", uniqueEmail()], "");
    assert.equal(noPassword.status, 1);
    assert.match(noPassword.stderr, /^tokenver: no password on standard input/);

    const taken = uniqueEmail();
    assert.equal((await cli(env, ["users", "create", taken], `${PASSWORD}\n`)).status, 0);
    const twice = await cli(env, ["users", "create", taken], `${PASSWORD}\n`);
    assert.equal(twice.status, 1);
    assert.equal(twice.stderr, "tokenver: an account with this email already exists\n");

    const usage = await cli(env, ["users", "disable"]);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /missing required argument 'email'/);

    // Nothing the CLI printed carries the password.
    for (const run of [missing, badEmail, noPassword, twice]) assert.ok(!`${run.stdout}${run.stderr}`.includes(PASSWORD));
  });

  test("tokenver --help names the users commands; users --help gives examples and exit codes", async () => {
    const help = await cli({}, ["--help"]);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /users\s+create accounts, make admins, disable, enable or log out users/);
    const users = await cli({}, ["users", "--help"]);
    assert.equal(users.status, 0);
    for (const text of [
      "create [options] <email>",
      "promote <email>",
      "demote <email>",
      "disable <email>",
      "enable <email>",
      "logout <email>",
      "Exit codes",
    ]) {
      assert.ok(users.stdout.includes(text), text);
    }
  });
});
