import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { calculateJwkThumbprint, importSPKI, jwtVerify } from "jose";
import { createAuth } from "../../src/create-auth.js";
import { createTestDatabase, dialects } from "../support/databases.js";
import { runCli } from "../support/process.js";
import { startServer, TEST_SECRET } from "../support/server.js";
import { decodePart } from "../support/tokens-forge.js";

// TOKENVER_SIGNING_KEY (docs/api.md section 7): the given private key (PKCS#8 PEM or a JWK) signs;
// its kid is its RFC 7638 thumbprint; a key that does not fit TOKENVER_SIGNING_ALG stops the start
// with one line naming the setting, and never prints the key.

const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const pem = ec.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
const publicPem = ec.publicKey.export({ format: "pem", type: "spki" }).toString();
const jwk = JSON.stringify(ec.privateKey.export({ format: "jwk" }));

for (const dialect of dialects()) {
  describe(`TOKENVER_SIGNING_KEY (${dialect})`, () => {
    for (const [form, key] of [
      ["PEM", pem],
      ["JWK", jwk],
    ] as const) {
      test(`an ES256 key as ${form} signs; its kid is its thumbprint`, async () => {
        const server = await startServer({ dialect, signingAlg: "ES256", signingKey: key });
        try {
          const user = await server.api.register();
          const { kid } = decodePart(user.access, 0);
          assert.equal(kid, await calculateJwkThumbprint(ec.publicKey.export({ format: "jwk" }) as never, "sha256"));
          const { payload } = await jwtVerify(user.access, await importSPKI(publicPem, "ES256"), { issuer: "tokenver" });
          assert.equal(payload.sub, user.user.id);
          assert.equal((await server.api.get("/profile", user.access)).status, 200);
        } finally {
          await server.close();
        }
      });
    }

    // A compromised configured key: `keys revoke` must keep it out, even though
    // TOKENVER_SIGNING_KEY still names it (the next command, a restart or a scheduled rotation
    // would otherwise add it again as a rotation).
    test("a key revoked with `tokenver keys revoke` is never added again: commands and restarts fail naming TOKENVER_SIGNING_KEY", async () => {
      const dir = mkdtempSync(join(tmpdir(), "tokenver-revoked-configured-"));
      const database =
        dialect === "sqlite" ? { url: `sqlite:${join(dir, "keys.db")}`, drop: async () => {} } : await createTestDatabase(dialect);
      const env = {
        TOKENVER_DATABASE_URL: database.url,
        TOKENVER_SECRET: TEST_SECRET,
        TOKENVER_SIGNING_ALG: "ES256",
        TOKENVER_SIGNING_KEY: pem,
      };
      const server = await startServer({ dialect, databaseUrl: database.url, signingAlg: "ES256", signingKey: pem });
      try {
        const user = await server.api.register();
        const kid = decodePart(user.access, 0).kid as string;
        assert.equal((await server.api.get("/profile", user.access)).status, 200);

        const revoked = await runCli(["keys", "revoke", kid], env);
        assert.equal(revoked.code, 0, revoked.stderr);
        assert.equal((await server.api.get("/profile", user.access)).body.code, "token_invalid");

        // The next command: refused, one line naming the setting, the key not added again.
        const next = await runCli(["keys", "list"], env);
        assert.equal(next.code, 1, next.stdout);
        assert.match(next.stderr, /^tokenver: invalid configuration: TOKENVER_SIGNING_KEY: .*revoked/);
        assert.equal(next.stderr.trim().split("\n").length, 1);
        assert.ok(!next.stderr.includes("PRIVATE"));
        // The running node still refuses the key's tokens, and does not publish it.
        await new Promise((resolve) => setTimeout(resolve, 1500)); // a poll
        const refused = await server.api.get("/profile", user.access);
        assert.equal(refused.status, 401);
        assert.equal(refused.body.code, "token_invalid");
        const published = (await server.api.get("/.well-known/jwks.json")).body.keys as Array<{ kid: string }>;
        assert.ok(!published.some((k) => k.kid === kid));

        await server.close(); // SQLite serves one process: the restart comes after it
        // A restart: refused the same way.
        await assert.rejects(
          createAuth({ databaseUrl: database.url, secret: TEST_SECRET, signingAlg: "ES256", signingKey: pem }),
          (error: Error & { option?: string }) => error.option === "signingKey" && /revoked/.test(error.message),
        );

        // With TOKENVER_SIGNING_KEY cleared, a restart works; the key stays gone.
        const restarted = await createAuth({ databaseUrl: database.url, secret: TEST_SECRET, signingAlg: "ES256" });
        try {
          await assert.rejects(restarted.verify(`Bearer ${user.access}`), (e: { code?: string }) => e.code === "token_invalid");
          assert.ok(!(await restarted.listKeys()).some((k) => k.kid === kid));
        } finally {
          await restarted.close();
        }
      } finally {
        await server.close().catch(() => {});
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

test("a key that does not fit the algorithm is refused at start-up, naming the setting", async () => {
  const ed = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  const weak = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  const cases: Array<[string, string, RegExp]> = [
    ["ES256", ed, /P-256/],
    ["RS256", weak, /at least 2048 bits/],
    ["EdDSA", "not a key", /PKCS#8 PEM or a JWK/],
    ["HS256", pem, /asymmetric/],
  ];
  for (const [alg, key, message] of cases) {
    await assert.rejects(
      createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET, signingAlg: alg as "ES256", signingKey: key }),
      (error: Error & { option?: string }) =>
        error.option === "signingKey" && message.test(error.message) && !error.message.includes("PRIVATE"),
      alg,
    );
  }
  const run = await runCli(["migrate"], {
    TOKENVER_DATABASE_URL: "sqlite::memory:",
    TOKENVER_SECRET: TEST_SECRET,
    TOKENVER_SIGNING_ALG: "ES256",
    TOKENVER_SIGNING_KEY: ed,
  });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^tokenver: invalid configuration: TOKENVER_SIGNING_KEY: must be a P-256 key/);
  assert.equal(run.stderr.trim().split("\n").length, 1);
  assert.ok(!run.stderr.includes("PRIVATE") && !run.stdout.includes("PRIVATE"));
});
