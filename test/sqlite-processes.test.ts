import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createAuth } from "../src/core/create-auth.js";
import { startNode } from "./support/nodes.js";
import { TEST_SECRET } from "./support/server.js";

// Two processes on one SQLite file: a revocation made by one is refused by the other at once, even
// though the server keeps an in-process copy of the revocation state.
test("a revocation by another process on the same SQLite file is honoured at once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tokenver-two-procs-"));
  const databaseUrl = `sqlite:${join(dir, "shared.db")}`;
  const server = await startNode({ TOKENVER_DATABASE_URL: databaseUrl, TOKENVER_SECRET: TEST_SECRET });
  const other = await createAuth({ databaseUrl, secret: TEST_SECRET });
  try {
    for (let round = 0; round < 5; round++) {
      const user = await server.api.register();
      const device = await server.api.login(user.email, user.password);
      // The server has both sessions in its in-process copy now.
      assert.equal((await server.api.get("/profile", user.access)).status, 200);
      assert.equal((await server.api.get("/profile", device.access)).status, 200);

      const principal = await other.verify(`Bearer ${device.access}`);
      await other.logout(principal, { scope: round % 2 === 0 ? "all" : "session" });

      const r = await server.api.get("/profile", device.access);
      assert.equal(r.status, 401, `round ${round}: the server accepted a token the other process revoked`);
      assert.equal(r.body.code, "token_revoked");
    }
  } finally {
    await other.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
