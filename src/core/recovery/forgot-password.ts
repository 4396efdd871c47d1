import * as users from "../../store/queries/users.js";
import type { Core } from "../context.js";
import { validationFailed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import type { RequestContext } from "../types.js";
import { checkLookupEmail, normalizeEmail, requireStrings } from "../validation.js";
import { inBackground } from "./background.js";
import { issueLink } from "./link.js";

/**
 * `POST /password/forgot {email}` (docs/api.md section 8): counted per email and per address
 * (429), then answered at once, the same whether or not the account exists: the lookup, the link
 * and the mail happen after the answer (background.ts). An enabled account gets a reset link at
 * the address stored on it (never the address as typed); a disabled or unknown one gets nothing.
 */
export async function forgotPassword(core: Core, input: { email: string }, context: RequestContext): Promise<void> {
  const errors = requireStrings(input, ["email"]);
  if (errors.length === 0) errors.push(...checkLookupEmail(input.email));
  if (errors.length > 0) throw validationFailed(errors);
  const email = normalizeEmail(input.email);
  await core.throttle.countMailRequest("forgot", email, context.ip);
  inBackground(core, "password reset", async () => {
    const user = await users.findUserByEmail(core.db, email);
    if (user === undefined || user.disabled_at !== null) return;
    await core.db.transaction().execute(async (trx) => {
      const link = await issueLink(core, trx, {
        userId: user.id,
        purpose: "reset",
        email: user.email,
        tokenVersion: user.token_version,
        ttl: core.config.resetTtl,
      });
      await core.mail.enqueue({ to: user.email, template: "password_reset", data: { link } }, trx);
    });
    recordEvent(core, { type: "password.reset_requested", userId: user.id, actor: "self", client: context });
  });
}
