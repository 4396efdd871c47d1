import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createTestDatabase, dialects, type TestDatabase } from "../support/databases.js";
import { startNode, type Node } from "../support/nodes.js";
import { runCli } from "../support/process.js";
import { TEST_SECRET } from "../support/server.js";
import { decodePart } from "../support/tokens-forge.js";

// `tokenver keys ...` beside a running server (docs/api.md sections 7 and 10): once `keys revoke`
// has exited, the running server refuses the key's tokens, even ones it answered from memory.

for (const dialect of dialects()) {
  describe(`tokenver keys beside a running server (${dialect})`, () => {
    let dir: string;
    let database: TestDatabase;
    let env: Record<string, string>;
    let server: Node;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "tokenver-cli-keys-"));
      database =
        dialect === "sqlite"
          ? { name: "sqlite", url: `sqlite:${join(dir, "live.db")}`, drop: async () => {} }
          : await createTestDatabase(dialect);
      env = { TOKENVER_DATABASE_URL: database.url, TOKENVER_SECRET: TEST_SECRET, TOKENVER_SIGNING_ALG: "EdDSA" };
      server = await startNode(env);
    });
    after(async () => {
      await server?.stop();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    test("list, rotate --now, revoke: the revoked key's tokens are refused once the command exits", async () => {
      const user = await server.api.register();
      const kid = decodePart(user.access, 0).kid as string;
      for (let i = 0; i < 3; i++) assert.equal((await server.api.get("/profile", user.access)).status, 200);

      const listed = await runCli(["keys", "list"], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`${kid}  EdDSA  current`));
      assert.doesNotMatch(listed.stdout + listed.stderr, /PRIVATE|"d"/);

      const rotated = await runCli(["keys", "rotate", "--now"], env);
      assert.equal(rotated.code, 0, rotated.stderr);
      const next = /published (\S+) \(EdDSA\)/.exec(rotated.stdout)![1]!;
      const fresh = (await server.api.login(user.email, user.password)).access;
      assert.equal(decodePart(fresh, 0).kid, next, "the new key signs once the command has exited");
      assert.equal((await server.api.get("/profile", user.access)).status, 200, "the old key still verifies");

      const revoked = await runCli(["keys", "revoke", kid], env);
      assert.equal(revoked.code, 0, revoked.stderr);
      const refused = await server.api.get("/profile", user.access);
      assert.equal(refused.status, 401);
      assert.equal(refused.body.code, "token_invalid");
      assert.equal((await server.api.get("/profile", fresh)).status, 200);

      const unknown = await runCli(["keys", "revoke", "no-such-kid"], env);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /no signing key/);
      // A kid may begin with "-" (base64url: 1 in 64): taken as the kid, not refused as an unknown option.
      const dashed = await runCli(["keys", "revoke", "-ZUCahiLwSiuDfbwhlmKuF"], env);
      assert.equal(dashed.code, 1, dashed.stderr);
      assert.match(dashed.stderr, /no signing key/);
      assert.doesNotMatch(dashed.stderr, /unknown option/);
    });
  });
}
