import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openStore } from "../../src/store/database.js";
import { createTestDatabase, dialects, type TestDatabase } from "../support/databases.js";
import { startServer } from "../support/server.js";
import type { Json } from "../support/tokens-forge.js";

// The JWKS tells the world which keys to trust. It is derived from each key's sealed private half
// (bound to its kid by the seal), never served from the row's stored public_jwk: whoever can
// write the database but not unseal a key must not be able to publish a key of their own.
for (const dialect of dialects()) {
  describe(`the JWKS is derived from the sealed private key (${dialect})`, () => {
    let directory: string;
    let database: TestDatabase;

    before(async () => {
      directory = mkdtempSync(join(tmpdir(), "tokenver-jwks-bound-"));
      database = await createTestDatabase(dialect, join(directory, "tokenver.db"));
    });
    after(async () => {
      await database.drop();
      rmSync(directory, { recursive: true, force: true });
    });

    test("a public_jwk rewritten in the database is not published; the real key is", async () => {
      const first = await startServer({ dialect, databaseUrl: database.url, signingAlg: "EdDSA" });
      let honest: Json;
      try {
        await first.api.register();
        const keys = (await first.api.get("/.well-known/jwks.json")).body.keys as Json[];
        assert.equal(keys.length, 1);
        honest = keys[0]!;
      } finally {
        await first.close();
      }

      // Someone with write access to the database swaps in their own public key under the same kid.
      const attacker = generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" });
      const planted = { ...honest, x: attacker.x };
      assert.notEqual(planted.x, honest.x);
      const store = await openStore(database.url);
      try {
        const { numUpdatedRows } = await store.db
          .updateTable("tokenver_signing_keys")
          .set({ public_jwk: JSON.stringify(planted) })
          .where("kid", "=", honest.kid as string)
          .executeTakeFirst();
        assert.equal(Number(numUpdatedRows), 1);
      } finally {
        await store.close();
      }

      const second = await startServer({ dialect, databaseUrl: database.url, signingAlg: "EdDSA" });
      try {
        const keys = (await second.api.get("/.well-known/jwks.json")).body.keys as Json[];
        assert.deepEqual(keys, [honest]);
      } finally {
        await second.close();
      }
    });
  });
}
