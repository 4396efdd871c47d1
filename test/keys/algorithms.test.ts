import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, sign as nodeSign } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { secretKidOf } from "../../src/core/tokens/access-token.js";
import { dialects } from "../support/databases.js";
import { claimsOf, startServer, TEST_SECRET, type TestServer } from "../support/server.js";
import { b64url, decodePart, forge, resign, validClaims, type Json } from "../support/tokens-forge.js";

// docs/api.md section 7: each algorithm signs and verifies; every token names its key (kid);
// verification uses the key the kid names, with that key's own algorithm, never the token's.

const PUBLIC_PARAMETERS: Record<string, string[]> = { OKP: ["crv", "x"], EC: ["crv", "x", "y"], RSA: ["e", "n"] };
const ALGS = ["HS256", "EdDSA", "ES256", "RS256"] as const;

/** A compact JWS signed with a key of our own (node:crypto), with exactly this header and these claims. */
function signWith(privateKey: import("node:crypto").KeyObject, alg: string, header: Json, claims: Json): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const digest = alg === "EdDSA" ? null : "sha256";
  const options = alg === "ES256" ? { key: privateKey, dsaEncoding: "ieee-p1363" as const } : privateKey;
  return `${input}.${nodeSign(digest, Buffer.from(input), options).toString("base64url")}`;
}

for (const dialect of dialects()) {
  for (const alg of ALGS) {
    describe(`signing with ${alg} (${dialect})`, () => {
      let server: TestServer;
      let account: { id: string; sid: string; access: string };
      const profile = (token: string) => server.api.get("/profile", token);
      const refused = async (token: string, what: string) => {
        const response = await profile(token);
        assert.equal(response.status, 401, `${what}: ${response.status} ${response.text}`);
        assert.equal(response.body.code, "token_invalid", what);
      };

      before(async () => {
        server = await startServer({ dialect, signingAlg: alg });
        const registered = await server.api.register();
        account = { id: registered.user.id, sid: claimsOf(registered.access).sid as string, access: registered.access };
      });
      after(() => server.close());

      test("the token's header is alg, typ at+jwt and a kid; it verifies", async () => {
        const header = decodePart(account.access, 0);
        assert.deepEqual(Object.keys(header).sort(), ["alg", "kid", "typ"]);
        assert.equal(header.alg, alg);
        assert.equal(header.typ, "at+jwt");
        assert.equal(typeof header.kid, "string");
        // HS256 signs with the server secret under the kid every node (and tool) derives from it.
        if (alg === "HS256") assert.equal(header.kid, secretKidOf(TEST_SECRET));
        assert.equal((await profile(account.access)).status, 200);
        // A second request is answered from the verified-token cache: still accepted.
        assert.equal((await profile(account.access)).status, 200);
      });

      test("the JWKS: public keys only, the token's kid among them, cacheable for 300 s", async () => {
        const response = await server.api.get("/.well-known/jwks.json");
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("cache-control"), "public, max-age=300");
        assert.equal(response.headers.get("pragma"), null);
        if (alg === "HS256") {
          assert.deepEqual(response.body, { keys: [] });
          return;
        }
        const keys = response.body.keys as Json[];
        assert.equal(keys.length, 1);
        const jwk = keys[0]!;
        assert.equal(jwk.kid, decodePart(account.access, 0).kid);
        assert.equal(jwk.alg, alg);
        assert.equal(jwk.use, "sig");
        assert.deepEqual(Object.keys(jwk).sort(), ["alg", "kid", "kty", "use", ...PUBLIC_PARAMETERS[jwk.kty as string]!].sort());
        for (const secret of ["d", "p", "q", "dp", "dq", "qi", "k"]) assert.equal(jwk[secret], undefined, secret);
        if (alg === "EdDSA") assert.equal(jwk.crv, "Ed25519");
        if (alg === "ES256") assert.equal(jwk.crv, "P-256");
        // The kid is the RFC 7638 thumbprint.
        const { calculateJwkThumbprint } = await import("jose");
        assert.equal(await calculateJwkThumbprint(jwk as never, "sha256"), jwk.kid);
      });

      if (alg !== "HS256") {
        test("jose verifies the token against the served JWKS (createRemoteJWKSet)", async () => {
          const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
          const { payload, protectedHeader } = await jwtVerify(account.access, jwks, {
            issuer: "tokenver",
            typ: "at+jwt",
            algorithms: [alg],
          });
          assert.equal(payload.sub, account.id);
          assert.equal(protectedHeader.alg, alg);
        });

        test("attacks: HS256 with the public key as the secret, alg swaps, unknown kid, none", async () => {
          const header = decodePart(account.access, 0);
          const jwks = (await server.api.get("/.well-known/jwks.json")).body.keys as Json[];
          const publicPem = createPublicKey({ key: jwks[0] as never, format: "jwk" })
            .export({ format: "pem", type: "spki" })
            .toString();
          const claims = decodePart(account.access, 1);
          // Key confusion: HS256 signed with the public key (PEM, and the JWK's text) as the HMAC secret.
          await refused(forge({ header: { ...header, alg: "HS256" }, claims, secret: publicPem }), "HS256 with the public PEM");
          await refused(forge({ header: { ...header, alg: "HS256" }, claims, secret: JSON.stringify(jwks[0]) }), "HS256 with the JWK");
          // The real signature under another alg in the header.
          const [, payload, signature] = account.access.split(".");
          for (const other of ALGS.filter((a) => a !== alg)) {
            await refused(`${b64url(JSON.stringify({ ...header, alg: other }))}.${payload}.${signature}`, `alg swapped to ${other}`);
          }
          // An unknown kid, with a key of the attacker's own of the same type.
          const { privateKey } =
            alg === "EdDSA"
              ? generateKeyPairSync("ed25519")
              : alg === "ES256"
                ? generateKeyPairSync("ec", { namedCurve: "P-256" })
                : generateKeyPairSync("rsa", { modulusLength: 2048 });
          await refused(signWith(privateKey, alg, { ...header, kid: "attacker" }, claims), "unknown kid");
          // The right kid, but the attacker's key.
          await refused(signWith(privateKey, alg, header, claims), "right kid, another key");
          // none, with and without the kid.
          await refused(forge({ header: { ...header, alg: "none" }, claims, signature: "" }), "none");
          await refused(forge({ header: { alg: "none", typ: "at+jwt" }, claims, signature: "" }), "none without kid");
          // HS256 with the server secret (the secret is not this deployment's signing key).
          await refused(
            resign(account.access, TEST_SECRET, (c) => c, { alg: "HS256", typ: "at+jwt" }),
            "HS256 secret, no kid, fresh asymmetric deployment",
          );
          // A kid that is not a string.
          await refused(forge({ header: { ...header, kid: 7 }, claims, secret: TEST_SECRET }), "numeric kid");
          // Injected kids (a path, SQL, a very long one): unknown, never an error.
          for (const kid of ["../../../etc/passwd", "' OR '1'='1' --", "k".repeat(4096)]) {
            await refused(signWith(privateKey, alg, { ...header, kid }, claims), `kid ${kid.slice(0, 24)}`);
          }
          // Headers that offer a key are ignored: the attacker's key in jwk, jku or x5u verifies nothing.
          const offered = createPublicKey(privateKey).export({ format: "jwk" });
          await refused(signWith(privateKey, alg, { ...header, jwk: offered }, claims), "jwk header");
          await refused(
            signWith(privateKey, alg, { ...header, jku: `${server.url}/.well-known/jwks.json`, x5u: "http://127.0.0.1:9/x.pem" }, claims),
            "jku, x5u",
          );
          // A token of another algorithm under this key's kid (an RS256 token for an EdDSA key, ...).
          const other =
            alg === "RS256"
              ? (["EdDSA", generateKeyPairSync("ed25519")] as const)
              : (["RS256", generateKeyPairSync("rsa", { modulusLength: 2048 })] as const);
          await refused(
            signWith(other[1].privateKey, other[0], { ...header, alg: other[0] }, claims),
            `${other[0]} token for the ${alg} key`,
          );
        });
      } else {
        test("HS256: tokens issued before kid existed (no kid) still verify; an unknown kid does not", async () => {
          const claims = validClaims(account.id, account.sid);
          assert.equal((await profile(forge({ header: { alg: "HS256", typ: "at+jwt" }, claims, secret: TEST_SECRET }))).status, 200);
          await refused(forge({ header: { alg: "HS256", typ: "at+jwt", kid: "unknown" }, claims, secret: TEST_SECRET }), "unknown kid");
          const kid = decodePart(account.access, 0).kid;
          await refused(
            forge({ header: { alg: "HS384", typ: "at+jwt", kid }, claims, secret: TEST_SECRET, hash: "sha384" }),
            "HS384 with the kid",
          );
          await refused(forge({ header: { alg: "none", typ: "at+jwt", kid }, claims, signature: "" }), "none with the kid");
          // The kid says nothing about the secret, and the metadata names the endpoints.
          assert.ok(!TEST_SECRET.includes(kid as string));
          const metadata = await server.api.get("/.well-known/oauth-authorization-server");
          assert.equal(metadata.status, 200);
          assert.deepEqual(Object.keys(metadata.body).sort(), ["introspection_endpoint", "issuer", "jwks_uri"]);
          assert.match(metadata.body.jwks_uri, /\/\.well-known\/jwks\.json$/);
          assert.match(metadata.body.introspection_endpoint, /\/introspect$/);
        });
      }
    });
  }
}
