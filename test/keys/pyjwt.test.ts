import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { dialects } from "../support/databases.js";
import { startServer, type TestServer } from "../support/server.js";

// docs/api.md section 7: standard JOSE libraries verify our tokens against the served JWKS. PyJWT
// is Debian's python3-jwt (importable by /usr/bin/python3; .ci/run installs it). Under CI=true a
// missing PyJWT fails the test; elsewhere the test is skipped with the reason.

const PYTHON = "/usr/bin/python3";
const SCRIPT = `
import sys, jwt
url, token, alg = sys.argv[1], sys.argv[2], sys.argv[3]
key = jwt.PyJWKClient(url).get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=[alg], issuer="tokenver", options={"require": ["exp", "iat", "sub", "iss"]})
print(claims["sub"])
`;

function pyjwtAvailable(): boolean {
  return existsSync(PYTHON) && spawnSync(PYTHON, ["-c", "import jwt, cryptography"], { stdio: "ignore" }).status === 0;
}

const available = pyjwtAvailable();
const skip = available ? false : "PyJWT is not installed: apt-get install -y python3-jwt";
if (!available && process.env.CI === "true") {
  test("PyJWT is installed (CI requires it: apt-get install -y python3-jwt)", () => assert.fail("python3-jwt is missing"));
}

for (const dialect of dialects()) {
  for (const alg of ["EdDSA", "ES256", "RS256"] as const) {
    describe(`PyJWT verifies an ${alg} token against the served JWKS (${dialect})`, { skip }, () => {
      let server: TestServer;
      before(async () => {
        server = await startServer({ dialect, signingAlg: alg });
      });
      after(() => server?.close());

      test("PyJWKClient + jwt.decode accept the token, and refuse a tampered one", async () => {
        const user = await server.api.register();
        const run = (token: string) =>
          new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
            // Asynchronous: the server answers the JWKS request in this same process.
            const child = spawn(PYTHON, ["-c", SCRIPT, `${server.url}/.well-known/jwks.json`, token, alg]);
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
            child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
            child.on("close", (status) => resolve({ status, stdout, stderr }));
          });
        const ok = await run(user.access);
        assert.equal(ok.status, 0, ok.stderr);
        assert.equal(ok.stdout.trim(), user.user.id);
        const [h, p, s] = user.access.split(".");
        const claims = JSON.parse(Buffer.from(p!, "base64url").toString());
        const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: "someone-else" })).toString("base64url")}.${s}`;
        const refused = await run(tampered);
        assert.notEqual(refused.status, 0);
        assert.match(refused.stderr, /InvalidSignatureError|Signature verification failed/);
      });
    });
  }
}
