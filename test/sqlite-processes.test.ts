import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
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

    // The first process serves on, and its revocations hold. (spawnSync blocked this process for
    // longer than the server's keep-alive timeout: let the client see the idle connection close
    // before it sends the next request on it.)
    await new Promise((resolve) => setTimeout(resolve, 200));
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

/** `tokenver serve` on the file, expected to stop at start-up: its exit code and first stderr line. */
function serveOnce(databaseUrl: string): { status: number | null; stderr: string } {
  const run = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", "serve"], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0", TOKENVER_DATABASE_URL: databaseUrl, TOKENVER_SECRET: TEST_SECRET },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: run.status, stderr: run.stderr.trim() };
}

// The lock used to be named after the file's path, so another name of the same inode (a hard
// link, the file renamed while served) got a lock of its own, and SQLite, which keeps the WAL by
// name, a WAL of its own too. The file's identity (device, inode) is locked now, and a file with
// several names is refused.
test("another name of the same file (a hard link, a rename) is the same file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tokenver-hard-link-"));
  const file = join(dir, "shared.db");
  const databaseUrl = `sqlite:${file}`;
  const server = await startNode({ TOKENVER_DATABASE_URL: databaseUrl, TOKENVER_SECRET: TEST_SECRET });
  try {
    const user = await server.api.register();

    // A hard link beside it: the same inode, so the same identity lock.
    const link = join(dir, "linked.db");
    linkSync(file, link);
    const second = serveOnce(`sqlite:${link}`);
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, /^tokenver: invalid configuration: TOKENVER_DATABASE_URL: is in use by another tokenver process/);
    unlinkSync(link);

    // A hard link in another directory shares no lock place with this one: several names are refused.
    mkdirSync(join(dir, "elsewhere"));
    const farLink = join(dir, "elsewhere", "shared.db");
    linkSync(file, farLink);
    await assert.rejects(createAuth({ databaseUrl: `sqlite:${farLink}`, secret: TEST_SECRET }), (error: Error) => {
      assert.match(error.message, /databaseUrl has 2 hard links: .*remove the other links/);
      return true;
    });
    unlinkSync(farLink);

    // Renamed while served (one name again, a new path): still the same inode, still locked.
    const renamed = join(dir, "renamed.db");
    renameSync(file, renamed);
    try {
      await assert.rejects(createAuth({ databaseUrl: `sqlite:${renamed}`, secret: TEST_SECRET }), /in use by another tokenver process/);
    } finally {
      renameSync(renamed, file);
    }

    // The first process serves on, and its revocations hold.
    assert.equal((await server.api.post("/logout", undefined, user.access)).status, 204);
    assert.equal((await server.api.get("/profile", user.access)).body.code, "token_revoked");
  } finally {
    await server.stop();
  }
  // A stray link is refused even with no server running: SQLite would journal each name apart.
  linkSync(file, join(dir, "stray.db"));
  await assert.rejects(createAuth({ databaseUrl, secret: TEST_SECRET }), /has 2 hard links/);
  unlinkSync(join(dir, "stray.db"));
  const next = await createAuth({ databaseUrl, secret: TEST_SECRET });
  await next.close();
  rmSync(dir, { recursive: true, force: true });
});
