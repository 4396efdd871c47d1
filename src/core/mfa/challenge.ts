import { isForeignKeyViolation } from "../../store/database.js";
import * as mfa from "../../store/queries/mfa.js";
import type { UserRow } from "../../store/queries/users.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { AuthError, failClosed } from "../errors.js";
import { generateRefreshToken, parseRefreshToken, secretMatches } from "../tokens/refresh-token.js";
import type { RequestContext } from "../types.js";

/** An `mfa_token` lives this long (docs/api.md section 9). */
export const MFA_TOKEN_TTL_SECONDS = 300;
/** Wrong codes that end an `mfa_token`. */
export const MFA_TOKEN_MAX_FAILURES = 5;

export type SignInMode = "cookie" | "bearer";

export function modeOf(context: RequestContext): SignInMode {
  return context.mode === "cookie" ? "cookie" : "bearer";
}

/**
 * The right password of an account with a second factor: no session yet, but a challenge whose
 * `mfa_token` (opaque `id.secret`, 256 random bits, stored as a SHA-256) `POST /login/mfa` takes
 * with a code. Bound to the user, their token version and the request's mode; single use; 300 s.
 * Resolves to the `403 mfa_required` error that carries it.
 */
export async function requireSecondFactor(core: Core, user: UserRow, context: RequestContext): Promise<AuthError> {
  const token = generateRefreshToken();
  const nowMs = core.config.clock();
  const now = isoAt(nowMs);
  await failClosed(async () => {
    // The user's dead challenges go first: they never pile up.
    await core.db.deleteFrom("tokenver_mfa_challenges").where("user_id", "=", user.id).where("expires_at", "<=", now).execute();
    await mfa
      .insertChallenge(core.db, {
        id: token.id,
        token_hash: token.hash,
        user_id: user.id,
        token_version: user.token_version,
        mode: modeOf(context),
        now,
        expires_at: isoAt(nowMs + MFA_TOKEN_TTL_SECONDS * 1000),
      })
      .catch((error: unknown) => {
        // The account was deleted after its password was checked: as for an unknown account.
        if (isForeignKeyViolation(error)) throw new AuthError("invalid_credentials", "The email or password is incorrect.");
        throw error;
      });
  });
  return new AuthError("mfa_required", "The password is right; a second-factor code is needed: POST /login/mfa with the mfa_token.", {
    members: { mfa_token: token.token },
  });
}

/**
 * The live challenge of an `mfa_token`, or `401 mfa_token_invalid` (unknown, used, expired,
 * exhausted, other mode). A read: it refuses dead tokens early, but only the reservation of an
 * attempt (`reserveChallengeAttempt`, before a code is checked) decides whether one is left.
 */
export async function findLiveChallenge(core: Core, mfaToken: string, context: RequestContext): Promise<mfa.ChallengeRow> {
  const parsed = parseRefreshToken(mfaToken);
  const row = parsed && (await failClosed(() => mfa.findChallenge(core.db, parsed.id)));
  const now = isoAt(core.config.clock());
  if (
    parsed === undefined ||
    row === undefined ||
    !secretMatches(parsed.secret, row.token_hash) ||
    row.used_at !== null ||
    row.expires_at <= now ||
    Number(row.failures) >= MFA_TOKEN_MAX_FAILURES ||
    row.mode !== modeOf(context)
  ) {
    throw mfaTokenInvalid();
  }
  return row;
}

export function mfaTokenInvalid(): AuthError {
  return new AuthError("mfa_token_invalid", "The mfa_token is unknown, used, expired or exhausted; sign in again.");
}
