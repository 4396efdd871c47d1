import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createAuth } from "../src/create-auth.js";
import { startNode } from "./support/nodes.js";
import { TEST_SECRET } from "./support/server.js";

const ROOT = new URL("../", import.meta.url).pathname;

// The SQLite default keeps an in-process copy of the revocation state, exact because every
// revocation goes through that one process. A second tokenver process on the same file would
// not be seen, so it is refused at start-up; maintenance commands that revoke nothing may run.
test("a second tokenver process on the same SQLite file is refused; migrate and prune may run beside it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tokenver-two-procs-"));
  const databaseUrl = `sqlite:${join(dir, "shared.db")}`;
  const server = await startNode({ TOKENVER_DATABASE_URL: databaseUrl, TOKENVER_SECRET: TEST_SECRET });
  try {
    const user = await server.api.register();

    await assert.rejects(createAuth({ databaseUrl, secret: TEST_SECRET }), (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /databaseUrl is in use by another tokenver process/);
      return true;
    });
    // Another spelling of the same file (a symlink) is the same file.
    symlinkSync(join(dir, "shared.db"), join(dir, "alias.db"));
    await assert.rejects(
      createAuth({ databaseUrl: `sqlite:${join(dir, "alias.db")}`, secret: TEST_SECRET }),
      /in use by another tokenver process/,
    );
    const second = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", "serve"], {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", TOKENVER_DATABASE_URL: databaseUrl, TOKENVER_SECRET: TEST_SECRET },
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(second.status, 1);
    assert.match(second.stderr.trim(), /^tokenver: invalid configuration: TOKENVER_DATABASE_URL: is in use by another tokenver process/);

    for (const command of ["migrate", "prune"]) {
      const run = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", command], {
        cwd: ROOT,
        env: { ...process.env, TOKENVER_DATABASE_URL: databaseUrl, TOKENVER_SECRET: TEST_SECRET },
        encoding: "utf8",
        timeout: 30_000,
      });
      assert.equal(run.status, 0, `${command}: ${run.stderr}`);
    }

    // The first process serves on, and its revocations hold.
    assert.equal((await server.api.get("/profile", user.access)).status, 200);
    assert.equal((await server.api.post("/logout", undefined, user.access)).status, 204);
    assert.equal((await server.api.get("/profile", user.access)).body.code, "token_revoked");
  } finally {
    await server.stop();
  }
  // Once it has stopped, the file is free again.
  const next = await createAuth({ databaseUrl, secret: TEST_SECRET });
  await next.close();
  rmSync(dir, { recursive: true, force: true });
});
