import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import { calculateJwkThumbprint, importSPKI, jwtVerify } from "jose";
import { createAuth } from "../../src/create-auth.js";
import { dialects } from "../support/databases.js";
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
