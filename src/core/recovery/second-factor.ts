import type { Core } from "../context.js";
import type { Principal } from "../types.js";

/**
 * HOOK for the second-factor capability (docs/api.md sections 8 and 9): `POST /email` also takes
 * `code` when the user has a second factor on. The MFA work replaces this body: when the user has a
 * factor, check `code` (counted like the password re-check) and throw `AuthError("code_invalid",
 * ..., { status: 403 })` when it is missing or wrong. Until then there is no factor to check.
 * Called after the password re-check succeeded, before anything is written.
 */
export async function requireSecondFactorForEmailChange(_core: Core, _principal: Principal, _code: string | undefined): Promise<void> {
  // No second factor exists yet: nothing to check.
}
