import * as links from "../../store/queries/links.js";
import * as sessions from "../../store/queries/sessions.js";
import * as users from "../../store/queries/users.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { failClosed, validationFailed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import { hashNewPassword } from "../passwords/form.js";
import { checkPasswordPolicy } from "../passwords/policy.js";
import type { RequestContext } from "../types.js";
import { requireStrings } from "../validation.js";
import { linkInvalid, linkMatches, linkTokenHash } from "./link.js";

export interface ResetPasswordInput {
  token: string;
  newPassword: string;
}

/**
 * `POST /password/reset {token, new_password}` (docs/api.md section 8). The link is checked (a
 * read), the policy applied, the password hashed; then, through the one revocation protocol, in
 * one transaction: the link is used up by one conditional DELETE (of two resets with one link,
 * exactly one gets it), the password replaced and the version incremented only if it is still the
 * link's (and the address too), every session revoked, every other link deleted, the address
 * marked verified (the link proved it), and the notice queued. It does not sign in.
 * `link_invalid` for a bad, used, superseded or expired link, or one whose account changed.
 */
export async function resetPassword(core: Core, input: ResetPasswordInput, context: RequestContext): Promise<void> {
  const errors = requireStrings(input, ["token", "newPassword"]);
  if (errors.length > 0) throw validationFailed(errors);
  const tokenHash = linkTokenHash(input.token);
  const link = await failClosed(() => links.findLink(core.db, tokenHash, ["reset"], isoAt(core.config.clock())));
  if (link === undefined) throw linkInvalid();
  const user = await failClosed(() => users.findUserById(core.db, link.user_id));
  if (!linkMatches(link, user)) throw linkInvalid();
  const policy = await checkPasswordPolicy(input.newPassword, "newPassword");
  if (policy.length > 0) throw validationFailed(policy);
  const ticket = core.hashQueue.reserve();
  let passwordHash: string;
  try {
    passwordHash = await ticket.run(() => hashNewPassword(input.newPassword));
  } finally {
    ticket.release();
  }
  const change = await core.revoker.revoke({ userId: link.user_id }, async (trx, now) => {
    // The user's row before the link: a flow holding the link while it waits for the user's row
    // (which another holds while it deletes the user's links) is a deadlock on PostgreSQL.
    await users.lockUser(trx, core.dialect, link.user_id);
    const used = await links.consumeLink(trx, tokenHash, ["reset"], now);
    if (used === undefined) throw linkInvalid();
    const tokenVersion = await users.incrementTokenVersion(trx, used.user_id, now, {
      passwordHash,
      expectedVersion: used.token_version,
      expectedEmail: used.email,
      verifyEmail: true,
    });
    if (tokenVersion === undefined) throw linkInvalid();
    const sessionIds = await sessions.revokeUserSessions(trx, used.user_id, now);
    await links.deleteUserLinks(trx, used.user_id);
    await core.mail.enqueue({ to: used.email, template: "password_reset_done", data: {} }, trx);
    return { userId: used.user_id, tokenVersion, sessionIds };
  });
  const detail = { revoked_sessions: change.sessionIds?.length ?? 0 };
  recordEvent(core, { type: "password.reset", userId: link.user_id, actor: "self", client: context, detail });
}
