import * as users from "../../store/queries/users.js";
import type { Core } from "../context.js";
import { validationFailed } from "../errors.js";
import type { RequestContext } from "../types.js";
import { checkLookupEmail, normalizeEmail, requireStrings } from "../validation.js";
import { inBackground } from "./background.js";
import { issueLink } from "./link.js";

/**
 * `POST /email/verify/resend {email}` (docs/api.md section 8): public, so an unverified user who
 * holds no token can ask. Counted per email and per address (429), answered at once and the same
 * whether or not such an account exists (background.ts); an enabled, unverified account gets a
 * fresh link (superseding the older) at its stored address.
 */
export async function resendVerification(core: Core, input: { email: string }, context: RequestContext): Promise<void> {
  const errors = requireStrings(input, ["email"]);
  if (errors.length === 0) errors.push(...checkLookupEmail(input.email));
  if (errors.length > 0) throw validationFailed(errors);
  const email = normalizeEmail(input.email);
  await core.throttle.countMailRequest("resend", email, context.ip);
  inBackground(core, "verification resend", async () => {
    const user = await users.findUserByEmail(core.db, email);
    if (user === undefined || user.disabled_at !== null || user.email_verified_at !== null) return;
    await core.db.transaction().execute(async (trx) => {
      const link = await issueLink(core, trx, {
        userId: user.id,
        purpose: "verify",
        email: user.email,
        tokenVersion: user.token_version,
        ttl: core.config.verifyTtl,
      });
      await core.mail.enqueue({ to: user.email, template: "verify_email", data: { link } }, trx);
    });
  });
}
