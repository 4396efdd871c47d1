import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { dialects } from "./support/databases.js";
import { claimsOf, startServer, TEST_SECRET, type ApiResponse, type TestServer } from "./support/server.js";
import { b64url, decodePart, forge, resign, swapPayload, validClaims, type Json } from "./support/tokens-forge.js";

// RFC 6750 section 3: a presented token that fails gets error="invalid_token" and a description.
const INVALID_TOKEN_CHALLENGE = /^Bearer realm="tokenver", error="invalid_token", error_description="[\x20\x21\x23-\x5b\x5d-\x7e]*"$/;
const FOREIGN_SECRET = "a-completely-different-secret-of-enough-bytes!";
const HEADER = { alg: "HS256", typ: "at+jwt" };

function assertRefused(response: ApiResponse, code: string, challenge: RegExp = INVALID_TOKEN_CHALLENGE): void {
  assert.equal(response.status, 401, `expected 401 ${code}, got ${response.status} ${response.text}`);
  assert.equal(response.body?.code, code, response.text);
  assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/);
  assert.match(response.headers.get("www-authenticate") ?? "", challenge);
}

interface Account {
  id: string;
  sid: string;
  access: string;
  refresh: string;
}

for (const dialect of dialects()) {
  describe(`forged and malformed access tokens (${dialect})`, () => {
    let server: TestServer;
    let alice: Account;
    let bob: Account;

    const profileWith = (token: string) => server.api.get("/profile", token);
    const profileWithHeader = (authorization: string) => server.api.request("GET", "/profile", { headers: { authorization } });
    /** Alice's claims as the server would issue them, after `change`. */
    const aliceClaims = (change: Json = {}): Json => ({ ...validClaims(alice.id, alice.sid), ...change });
    const signed = (claims: Json, header: Json = HEADER) => forge({ header, claims, secret: TEST_SECRET });

    before(async () => {
      server = await startServer({ dialect });
      const account = async (): Promise<Account> => {
        const r = await server.api.register();
        return { id: r.user.id, sid: claimsOf(r.access).sid as string, access: r.access, refresh: r.refresh };
      };
      alice = await account();
      bob = await account();
    });
    after(() => server.close());

    test("sanity: the server's token and a hand-forged valid token are both accepted", async () => {
      assert.equal((await profileWith(alice.access)).status, 200);
      // Every negative case below changes one thing of this token, so each can fail.
      const forged = await profileWith(signed(aliceClaims()));
      assert.equal(forged.status, 200, forged.text);
      assert.equal(forged.body.id, alice.id);
      // Re-signing the real token unchanged is accepted too (the resign helper is faithful).
      assert.equal((await profileWith(resign(alice.access, TEST_SECRET))).status, 200);
    });

    for (const alg of ["none", "None", "NONE", "nOnE"]) {
      test(`alg ${alg} is refused, unsigned and signed`, async () => {
        const header = { alg, typ: "at+jwt" };
        assertRefused(await profileWith(forge({ header, claims: aliceClaims(), signature: "" })), "token_invalid");
        assertRefused(await profileWith(forge({ header, claims: aliceClaims(), secret: TEST_SECRET })), "token_invalid");
      });
    }

    for (const [alg, hash] of [
      ["HS384", "sha384"],
      ["HS512", "sha512"],
    ] as const) {
      test(`${alg} signed with the right secret is refused (algorithm pinned)`, async () => {
        const token = forge({ header: { alg, typ: "at+jwt" }, claims: aliceClaims(), secret: TEST_SECRET, hash });
        assertRefused(await profileWith(token), "token_invalid");
      });
    }

    test("a key or algorithm named by the token is never used", async () => {
      const jwk = { kty: "oct", k: b64url(FOREIGN_SECRET) };
      for (const header of [
        { alg: "HS256", typ: "at+jwt", jwk },
        { alg: "HS256", typ: "at+jwt", kid: "../../../dev/null" },
        { alg: "HS256", typ: "at+jwt", jku: "http://127.0.0.1:1/jwks.json" },
      ]) {
        assertRefused(await profileWith(forge({ header, claims: aliceClaims(), secret: FOREIGN_SECRET })), "token_invalid");
      }
      // The right secret under another spelling of the algorithm, or an asymmetric one, is refused too.
      for (const alg of ["hs256", "RS256", "ES256", "PS256", "EdDSA"]) {
        assertRefused(
          await profileWith(forge({ header: { alg, typ: "at+jwt" }, claims: aliceClaims(), secret: TEST_SECRET })),
          "token_invalid",
        );
      }
    });

    test("HS256 with a foreign secret is refused", async () => {
      assertRefused(await profileWith(forge({ header: HEADER, claims: aliceClaims(), secret: FOREIGN_SECRET })), "token_invalid");
      assertRefused(await profileWith(resign(alice.access, FOREIGN_SECRET)), "token_invalid");
    });

    test("another user's payload under the original signature is refused", async () => {
      assertRefused(await profileWith(swapPayload(alice.access, bob.access)), "token_invalid");
      // And a tampered claim under the original signature.
      const [h, , s] = alice.access.split(".");
      const tampered = `${h}.${b64url(JSON.stringify({ ...decodePart(alice.access, 1), token_version: 5 }))}.${s}`;
      assertRefused(await profileWith(tampered), "token_invalid");
    });

    test("expired beyond the leeway is token_expired", async () => {
      const now = Math.floor(Date.now() / 1000);
      assertRefused(await profileWith(signed(aliceClaims({ iat: now - 3600, exp: now - 600 }))), "token_expired");
    });

    test("a future nbf is token_invalid", async () => {
      const now = Math.floor(Date.now() / 1000);
      assertRefused(await profileWith(signed(aliceClaims({ nbf: now + 600 }))), "token_invalid");
    });

    test("a foreign or missing iss is refused", async () => {
      assertRefused(await profileWith(signed(aliceClaims({ iss: "someone-else" }))), "token_invalid");
      const { iss: _iss, ...noIss } = aliceClaims();
      assertRefused(await profileWith(signed(noIss)), "token_invalid");
    });

    test("typ other than at+jwt, or missing, is refused", async () => {
      assertRefused(await profileWith(signed(aliceClaims(), { alg: "HS256", typ: "JWT" })), "token_invalid");
      assertRefused(await profileWith(signed(aliceClaims(), { alg: "HS256" })), "token_invalid");
    });

    test("token_version missing, a string, negative or a float is token_invalid", async () => {
      const { token_version: _v, ...noVersion } = aliceClaims();
      assertRefused(await profileWith(signed(noVersion)), "token_invalid");
      for (const bad of ["0", -1, 0.5, null, true]) {
        assertRefused(await profileWith(signed(aliceClaims({ token_version: bad }))), "token_invalid");
      }
    });

    test("a higher token_version than stored is token_revoked (equal, not greater or equal)", async () => {
      assertRefused(await profileWith(signed(aliceClaims({ token_version: 1 }))), "token_revoked");
      assertRefused(await profileWith(signed(aliceClaims({ token_version: 1000 }))), "token_revoked");
    });

    test("unknown sub, unknown sid and another user's sid are token_invalid", async () => {
      assertRefused(await profileWith(signed(aliceClaims({ sub: randomUUID() }))), "token_invalid");
      assertRefused(await profileWith(signed(aliceClaims({ sid: randomUUID() }))), "token_invalid");
      assertRefused(await profileWith(signed(aliceClaims({ sid: bob.sid }))), "token_invalid");
      // Bob's sid with Alice's sub, the other way round.
      assertRefused(await profileWith(signed({ ...validClaims(bob.id, alice.sid) })), "token_invalid");
    });

    test("a JWE-shaped five-part token is refused", async () => {
      const jwe = [
        b64url(JSON.stringify({ alg: "dir", enc: "A256GCM", typ: "at+jwt" })),
        "",
        b64url("iv-iv-iv-iv"),
        b64url("ciphertext"),
        b64url("tag"),
      ].join(".");
      assertRefused(await profileWith(jwe), "token_invalid");
      const fiveParts = `${signed(aliceClaims())}.${b64url("x")}.${b64url("y")}`;
      assertRefused(await profileWith(fiveParts), "token_invalid");
    });

    test("an unknown crit header is refused", async () => {
      const header = { alg: "HS256", typ: "at+jwt", crit: ["urn:example:unknown"], "urn:example:unknown": true };
      assertRefused(await profileWith(signed(aliceClaims(), header)), "token_invalid");
    });

    test("a token in the query string is ignored (token_missing, no error attribute)", async () => {
      const response = await server.api.request("GET", `/profile?access_token=${encodeURIComponent(alice.access)}`);
      assertRefused(response, "token_missing", /^Bearer realm="tokenver"$/);
    });

    test("a refresh token is never accepted as an access token", async () => {
      assertRefused(await profileWith(alice.refresh), "token_invalid");
    });

    test("an access token is never accepted as a refresh token", async () => {
      const response = await server.api.post("/token/refresh", { refresh: alice.access });
      assertRefused(response, "token_invalid");
      assert.equal(response.body.access, undefined);
    });

    test("garbage and truncated tokens are token_invalid", async () => {
      const [h, p] = alice.access.split(".");
      for (const token of ["abc", `${h}.${p}`, `${h}.${p}.`, `${alice.access}x`, "a.b.c", "x".repeat(10_000)]) {
        assertRefused(await profileWith(token), "token_invalid");
      }
    });

    describe("Bearer scheme parsing (RFC 6750 2.1)", () => {
      test("the scheme is case-insensitive and several spaces are allowed", async () => {
        for (const scheme of ["Bearer ", "bearer ", "BEARER ", "bEaReR ", "Bearer    "]) {
          const response = await profileWithHeader(`${scheme}${alice.access}`);
          assert.equal(response.status, 200, `${JSON.stringify(scheme)}: ${response.text}`);
        }
      });

      // docs/api.md section 6: only a Bearer header turns cookie authentication off, and any other
      // scheme on a protected route is token_invalid (it was token_missing before cookie mode),
      // still without an error attribute: no bearer token was presented (RFC 6750 3.1).
      test("another scheme is token_invalid without an error attribute", async () => {
        const bare = /^Bearer realm="tokenver"$/;
        assertRefused(await profileWithHeader(`Basic ${Buffer.from("a:b").toString("base64")}`), "token_invalid", bare);
        assertRefused(await profileWithHeader(`Token ${alice.access}`), "token_invalid", bare);
        // A token glued to the scheme is not the Bearer scheme.
        assertRefused(await profileWithHeader(`Bearer${alice.access}`), "token_invalid", bare);
      });

      test("no Authorization header is token_missing", async () => {
        assertRefused(await server.api.get("/profile"), "token_missing", /^Bearer realm="tokenver"$/);
      });

      test("Bearer with nothing after it is refused", async () => {
        assertRefused(await profileWithHeader("Bearer"), "token_invalid");
        assertRefused(await profileWithHeader("Bearer    "), "token_invalid");
      });

      test("a second token or stray characters after the token are refused", async () => {
        assertRefused(await profileWithHeader(`Bearer ${alice.access} ${bob.access}`), "token_invalid");
        assertRefused(await profileWithHeader(`Bearer ${alice.access},`), "token_invalid");
      });
    });
  });
}
