// Unit tests for src/core/verify.ts (createVerify): the revocation step of the one function that
// decides whether a request is authenticated, over a hand-made token verifier and revocation state.
// Each outcome with its code and its RFC 6750 flag (a token was presented), and never open.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AuthError } from "../../../src/core/errors.js";
import type { AccessTokenClaims } from "../../../src/core/tokens/access-token.js";
import { createVerify } from "../../../src/core/verify.js";
import type { RevocationState, SessionState } from "../../../src/store/revocation/state.js";

const claims = (over: Partial<AccessTokenClaims> = {}): AccessTokenClaims =>
  ({ iss: "tokenver", sub: "u1", sid: "s1", token_version: 3, jti: "j", iat: 1, exp: 2, ...over }) as AccessTokenClaims;

function verifyWith(state: SessionState | undefined | Error, tokenClaims = claims()) {
  const asked: Array<[string, string]> = [];
  const revocation = {
    get: async (sessionId: string, userId: string) => {
      asked.push([sessionId, userId]);
      if (state instanceof Error) throw state;
      return state;
    },
  } as unknown as RevocationState;
  return { verify: createVerify(() => tokenClaims, revocation), asked };
}

async function rejectsWith(promise: Promise<unknown>, code: string, tokenPresented: boolean) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AuthError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.tokenPresented, tokenPresented, "tokenPresented");
    assert.ok(error.message.length > 0, "a detail");
    return true;
  });
}

describe("createVerify: the revocation step", () => {
  test("a live session of the token's user at the token's version: the principal", async () => {
    const { verify, asked } = verifyWith({ userId: "u1", tokenVersion: 3, revoked: false });
    const principal = await verify("Bearer a.b.c");
    assert.deepEqual(principal, { userId: "u1", sessionId: "s1", tokenVersion: 3, claims: claims() });
    assert.deepEqual(asked, [["s1", "u1"]], "asked by session, with the user as a hint");
  });

  test("an unknown session: token_invalid", async () => {
    await rejectsWith(verifyWith(undefined).verify("Bearer a.b.c"), "token_invalid", true);
  });

  test("a session of another user (a sid that is not the sub's): token_invalid", async () => {
    await rejectsWith(verifyWith({ userId: "u2", tokenVersion: 3, revoked: false }).verify("Bearer a.b.c"), "token_invalid", true);
  });

  test("a revoked session: token_revoked", async () => {
    await rejectsWith(verifyWith({ userId: "u1", tokenVersion: 3, revoked: true }).verify("Bearer a.b.c"), "token_revoked", true);
  });

  test("a live session whose user's version moved on (a password change re-keyed it): token_revoked", async () => {
    for (const tokenVersion of [4, 2]) {
      await rejectsWith(verifyWith({ userId: "u1", tokenVersion, revoked: false }).verify("Bearer a.b.c"), "token_revoked", true);
    }
  });

  test("a state that does not answer: service_unavailable, never the principal", async () => {
    await rejectsWith(verifyWith(new Error("ECONNREFUSED")).verify("Bearer a.b.c"), "service_unavailable", false);
  });

  test("no Authorization header: token_missing before any state is read", async () => {
    const { verify, asked } = verifyWith({ userId: "u1", tokenVersion: 3, revoked: false });
    await rejectsWith(verify(undefined), "token_missing", false);
    assert.deepEqual(asked, []);
  });
});
