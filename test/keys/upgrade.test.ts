import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createTestDatabase, dialects } from "../support/databases.js";
import { startServer, TEST_SECRET } from "../support/server.js";
import { decodePart, forge, validClaims } from "../support/tokens-forge.js";

// docs/api.md section 7: an existing HS256 deployment keeps working (the secret is its key, with a
// kid; tokens issued before kid existed verify until they expire); changing TOKENVER_SIGNING_ALG
// is a rotation (published first, signing after the delay); TOKENVER_KEY_ROTATION rotates on its own.

const kidOf = (token: string) => decodePart(token, 0).kid as string;

for (const dialect of dialects()) {
  describe(`upgrading and changing the algorithm (${dialect})`, () => {
    test("HS256 -> EdDSA: old tokens verify, the new key is published before it signs", async () => {
      const dir = mkdtempSync(join(tmpdir(), "tokenver-keys-upgrade-"));
      const database = await createTestDatabase(dialect, join(dir, "upgrade.db"));
      let nowMs = Date.now();
      const clock = () => nowMs;
      try {
        const first = await startServer({ dialect, databaseUrl: database.url, clock });
        const user = await first.api.register();
        const legacy = forge({
          header: { alg: "HS256", typ: "at+jwt" },
          claims: validClaims(user.user.id, decodePart(user.access, 1).sid as string),
          secret: TEST_SECRET,
        });
        assert.equal((await first.api.get("/profile", legacy)).status, 200, "a token issued before kid existed");
        await first.close();

        const second = await startServer({ dialect, databaseUrl: database.url, clock, signingAlg: "EdDSA", keyPublishDelay: 600 });
        try {
          const keys = (await second.api.get("/.well-known/jwks.json")).body.keys as Array<{ kid: string; alg: string }>;
          assert.equal(keys.length, 1);
          assert.equal(keys[0]!.alg, "EdDSA");
          for (const token of [user.access, legacy]) assert.equal((await second.api.get("/profile", token)).status, 200);
          const before = (await second.api.login(user.email, user.password)).access;
          assert.equal(decodePart(before, 0).alg, "HS256", "the old key signs until the delay has passed");
          nowMs += 601_000;
          const after = (await second.api.login(user.email, user.password)).access;
          assert.equal(decodePart(after, 0).alg, "EdDSA");
          assert.equal(kidOf(after), keys[0]!.kid);
          for (const token of [before, after]) assert.equal((await second.api.get("/profile", token)).status, 200);
          const states = (await second.auth.listKeys()).map((k) => `${k.alg}:${k.state}`).sort();
          assert.deepEqual(states, ["EdDSA:current", "HS256:retiring"]);
        } finally {
          await second.close();
        }
      } finally {
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("a changed TOKENVER_SECRET: HS256 ends the old tokens as before; sealed keys refuse the start", async () => {
      const dir = mkdtempSync(join(tmpdir(), "tokenver-keys-secret-"));
      try {
        for (const alg of ["HS256", "EdDSA"] as const) {
          const database = await createTestDatabase(dialect, join(dir, `${alg}.db`));
          try {
            const first = await startServer({ dialect, databaseUrl: database.url, signingAlg: alg });
            const user = await first.api.register();
            await first.close();
            const other = `${TEST_SECRET}-but-another-one`;
            if (alg === "EdDSA") {
              await assert.rejects(
                startServer({ dialect, databaseUrl: database.url, signingAlg: alg, secret: other }),
                (e: Error & { option?: string }) => e.option === "secret" && /sealed with/.test(e.message),
              );
              continue;
            }
            const second = await startServer({ dialect, databaseUrl: database.url, signingAlg: alg, secret: other });
            try {
              const refused = await second.api.get("/profile", user.access);
              assert.equal(refused.body.code, "token_invalid");
              const fresh = (await second.api.login(user.email, user.password)).access;
              assert.notEqual(kidOf(fresh), kidOf(user.access));
              assert.equal((await second.api.get("/profile", fresh)).status, 200);
            } finally {
              await second.close();
            }
          } finally {
            await database.drop();
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("TOKENVER_KEY_ROTATION: a key older than the period is rotated on its own (published first)", async () => {
      let nowMs = Date.now();
      const server = await startServer({ dialect, clock: () => nowMs, signingAlg: "ES256", keyRotation: 1, keyPublishDelay: 600 });
      try {
        const [before] = await server.auth.listKeys();
        nowMs += 86_400_000 + 1000;
        let listed = await server.auth.listKeys();
        for (let i = 0; i < 30 && listed.length < 2; i++) {
          await sleep(200);
          listed = await server.auth.listKeys();
        }
        assert.equal(listed.length, 2);
        assert.equal(listed.find((k) => k.kid === before!.kid)!.state, "current");
        assert.equal(listed.find((k) => k.kid !== before!.kid)!.state, "next");
        assert.equal(((await server.api.get("/.well-known/jwks.json")).body.keys as unknown[]).length, 2);
      } finally {
        await server.close();
      }
    });
  });
}
