// The refresh token's expiry to the millisecond, with an injected clock: `expires_at` is the first
// instant at which the token no longer works (src/core/sessions/refresh.ts). Kills the mutant that
// compares with `<` instead of `<=` (issue #21), and the ones that drop the check or turn it round.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createAuth, type Auth } from "../src/create-auth.js";
import { createTestDatabase, dialects, type TestDatabase } from "./support/databases.js";
import { TEST_SECRET } from "./support/server.js";

const PASSWORD = "a long and unguessable passphrase";
const REFRESH_TTL = 3600;
const START = Date.parse("2030-01-01T00:00:00.000Z");
let counter = 0;
const email = () => `expiry-${process.pid}-${counter++}@example.com`;

for (const dialect of dialects()) {
  describe(`refresh token expiry at the exact instant (${dialect})`, () => {
    let database: TestDatabase;
    let auth: Auth;
    let now = START;

    before(async () => {
      database = await createTestDatabase(dialect);
      auth = await createAuth({ databaseUrl: database.url, secret: TEST_SECRET, refreshTtl: REFRESH_TTL, clock: () => now });
    });
    after(async () => {
      await auth?.close();
      await database?.drop();
    });

    /** Two sessions of one user, both issued at `at`: each has a refresh token expiring at `at + REFRESH_TTL`. */
    async function twoTokensIssuedAt(at: number) {
      now = at;
      const registered = await auth.register({ email: email(), password: PASSWORD });
      const second = await auth.login({ email: registered.user.email, password: PASSWORD });
      return [registered.refreshToken, second.refreshToken] as const;
    }

    test("1 ms before expires_at the token rotates; at expires_at it is token_expired", async () => {
      const [early, onTime] = await twoTokensIssuedAt(START);
      const expiresAt = START + REFRESH_TTL * 1000;

      now = expiresAt - 1;
      const rotated = await auth.refresh(early);
      assert.equal(typeof rotated.refreshToken, "string");

      now = expiresAt;
      await assert.rejects(auth.refresh(onTime), (error: any) => {
        assert.equal(error.code, "token_expired");
        assert.equal(error.status, 401);
        assert.equal(error.tokenPresented, true, "RFC 6750: the challenge carries error attributes");
        assert.ok(error.message.length > 0, "a detail");
        return true;
      });
      // Not reuse, not a revocation: the token was merely presented too late.
      now = expiresAt + 1;
      await assert.rejects(auth.refresh(onTime), { code: "token_expired" });
    });

    test("a rotation starts a new lifetime from the instant of the refresh", async () => {
      const [first] = await twoTokensIssuedAt(START + 10 * REFRESH_TTL * 1000);
      const issuedAt = now;
      now = issuedAt + 1000;
      const rotated = await auth.refresh(first);
      const expiresAt = now + REFRESH_TTL * 1000;
      now = expiresAt - 1;
      const again = await auth.refresh(rotated.refreshToken);
      now = expiresAt - 1 + REFRESH_TTL * 1000;
      await assert.rejects(auth.refresh(again.refreshToken), { code: "token_expired" });
    });

    test("an expired token presented again is still token_expired, and the session is not revoked for reuse", async () => {
      const [token, other] = await twoTokensIssuedAt(START + 20 * REFRESH_TTL * 1000);
      const expiresAt = now + REFRESH_TTL * 1000;
      now = expiresAt;
      for (let i = 0; i < 2; i++) await assert.rejects(auth.refresh(token), { code: "token_expired" });
      now = expiresAt - 1;
      assert.equal(typeof (await auth.refresh(other)).accessToken, "string", "the other session of the user is untouched");
    });
  });
}
