import type { RevocationState } from "../store/revocation/state.js";
import { AuthError, unavailable } from "./errors.js";
import { parseBearer } from "./tokens/bearer.js";
import type { AccessTokenClaims } from "./tokens/access-token.js";
import type { Principal } from "./types.js";

export interface VerifyOptions {
  /**
   * Another `Authorization` scheme is `token_invalid` instead of `token_missing`: what the HTTP
   * adapters ask for, where cookie mode makes "no header" and "another scheme" differ (docs/api.md
   * section 6; src/http/authorization.ts).
   */
  onlyBearer?: boolean;
}

/**
 * THE place that decides whether a request is authenticated; every adapter (Fastify, Express,
 * `auth.verify()` in your own code) calls the function this returns. A pipeline of small steps,
 * each failing with its own code:
 *
 * 1. `Authorization` header -> token (tokens/bearer.ts): `token_missing`, `token_invalid`;
 * 2. signature with the pinned algorithm, then the claims (tokens/access-token.ts):
 *    `token_invalid`, `token_expired`;
 * 3. the revocation state of the token's session and user (store/revocation/): unknown session
 *    or another user's `token_invalid`; session revoked or `token_version` not equal to the
 *    user's `token_revoked`; a store that does not answer `service_unavailable` (never open).
 */
export function createVerify(
  verifyToken: (token: string) => AccessTokenClaims,
  revocation: RevocationState,
  /** Several nodes over Redis: the signing keys read again first when they may be stale (core/keys/key-ring.ts `fresh`). */
  freshKeys?: () => Promise<void> | undefined,
): (authorization: string | null | undefined, options?: VerifyOptions) => Promise<Principal> {
  return async (authorization, options) => {
    const token = parseBearer(authorization, options?.onlyBearer === true);
    const reading = freshKeys?.();
    if (reading !== undefined) {
      try {
        await reading;
      } catch (error) {
        throw unavailable(error);
      }
    }
    const claims = verifyToken(token);
    let state;
    try {
      state = await revocation.get(claims.sid, claims.sub);
    } catch (error) {
      throw unavailable(error);
    }
    if (state === undefined || state.userId !== claims.sub) {
      throw new AuthError("token_invalid", "The token's session is unknown.", { tokenPresented: true });
    }
    if (state.revoked || claims.token_version !== state.tokenVersion) {
      throw new AuthError("token_revoked", "The token has been revoked.", { tokenPresented: true });
    }
    // Tokens issued before `amr` existed were password sign-ins.
    return { userId: claims.sub, sessionId: claims.sid, tokenVersion: claims.token_version, claims };
  };
}
