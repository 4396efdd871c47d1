import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startNode, type Node } from "./support/nodes.js";
import { runCli } from "./support/process.js";
import { TEST_SECRET, uniqueEmail } from "./support/server.js";

const PASSWORD = "a long and unguessable passphrase";

/** The real CLI in a process of its own (an empty standard input unless given); resolves once it has exited. */
const cli = async (env: Record<string, string>, args: string[], input?: string) => {
  const { code, stdout, stderr } = await runCli(args, env, input ?? "");
  return { status: code, stdout, stderr };
};

// `tokenver users ...` beside a running SQLite server (docs/api.md section 10): the server keeps
// the revocation state in memory, yet once a command that revokes has exited, the server refuses
// what it revoked (docs/operations.md, "Commands beside a running SQLite server").
describe("tokenver users beside a running SQLite server", () => {
  let dir: string;
  let env: Record<string, string>;
  let server: Node;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tokenver-cli-users-"));
    env = { TOKENVER_DATABASE_URL: `sqlite:${join(dir, "live.db")}`, TOKENVER_SECRET: TEST_SECRET };
    server = await startNode(env);
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A user whose token the server has answered from memory (twice: read, then cached). */
  async function warmUser() {
    const user = await server.api.register();
    for (let i = 0; i < 3; i++) assert.equal((await server.api.get("/profile", user.access)).status, 200);
    return user;
  }

  test("create --admin with the password from standard input, then the admin API works", async () => {
    const email = uniqueEmail();
    const created = await cli(env, ["users", "create", email, "--admin"], `${PASSWORD}\nignored second line\n`);
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stdout, /^tokenver: created .+ \(id [0-9a-f-]+, admin\)\n$/);
    assert.equal(created.stderr, "");
    const admin = await server.api.login(email, PASSWORD);
    assert.equal((await server.api.get("/admin/users", admin.access)).status, 200);
    // Only the first line is the password.
    assert.equal((await server.api.post("/login", { email, password: `${PASSWORD}\nignored second line` })).status, 401);
  });

  test("disable and logout: the running server refuses the token as soon as the command has exited", async () => {
    for (let round = 0; round < 2; round++) {
      const user = await warmUser();
      const disabled = await cli(env, ["users", "disable", user.email]);
      assert.equal(disabled.status, 0, disabled.stderr);
      assert.match(disabled.stdout, /is disabled/);
      const refused = await server.api.get("/profile", user.access);
      assert.equal(refused.status, 401, `round ${round}: the server accepted a token the CLI revoked`);
      assert.equal(refused.body.code, "token_revoked");
      assert.equal((await server.api.post("/login", { email: user.email, password: user.password })).body.code, "account_disabled");

      assert.equal((await cli(env, ["users", "enable", user.email])).status, 0);
      const again = await server.api.login(user.email, user.password);
      for (let i = 0; i < 3; i++) assert.equal((await server.api.get("/profile", again.access)).status, 200);
      const logout = await cli(env, ["users", "logout", user.email]);
      assert.equal(logout.status, 0, logout.stderr);
      assert.equal((await server.api.get("/profile", again.access)).body.code, "token_revoked", `round ${round}: logout`);
    }
  });

  test("promote and demote: the role is read from the database on the next admin request", async () => {
    const user = await warmUser();
    assert.equal((await server.api.get("/admin/users", user.access)).status, 403);
    assert.equal((await cli(env, ["users", "promote", user.email])).status, 0);
    assert.equal((await server.api.get("/admin/users", user.access)).status, 200);
    assert.equal((await cli(env, ["users", "demote", user.email])).status, 0);
    assert.equal((await server.api.get("/admin/users", user.access)).body.code, "forbidden");
  });

  test("the last enabled admin cannot be demoted or disabled from the CLI either", async () => {
    const email = uniqueEmail();
    // Make this the only enabled admin: demote every other one through the API's own listing.
    assert.equal((await cli(env, ["users", "create", email, "--admin"], `${PASSWORD}\n`)).status, 0);
    const admin = await server.api.login(email, PASSWORD);
    const listing = await server.api.get("/admin/users?limit=100", admin.access);
    for (const u of listing.body.users as Array<{ email: string; role: string }>) {
      if (u.role === "admin" && u.email !== email) assert.equal((await cli(env, ["users", "demote", u.email])).status, 0);
    }
    for (const command of ["demote", "disable"]) {
      const refused = await cli(env, ["users", command, email]);
      assert.equal(refused.status, 1, command);
      assert.match(refused.stderr, /^tokenver: refused: the last enabled administrator cannot be disabled, demoted or deleted\n$/i);
    }
    assert.equal((await server.api.get("/admin/users", admin.access)).status, 200);
  });
});
