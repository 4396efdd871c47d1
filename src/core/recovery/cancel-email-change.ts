import * as links from "../../store/queries/links.js";
import * as sessions from "../../store/queries/sessions.js";
import * as users from "../../store/queries/users.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { failClosed, validationFailed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import type { RequestContext } from "../types.js";
import { requireStrings } from "../validation.js";
import { linkInvalid, linkMatches, linkTokenHash } from "./link.js";

/**
 * `POST /email/cancel {token}` (public; docs/recovery.md): the cancel link mailed to the old
 * address with an email change. "This was not me": through the one revocation protocol the link
 * is used up, the version incremented (which kills the pending change's link and every other
 * link) and every session revoked. `link_invalid` for a bad, used or expired link, or once the
 * account's version or address moved on (the change was confirmed, or a password was reset).
 */
export async function cancelEmailChange(core: Core, input: { token: string }, context: RequestContext): Promise<void> {
  const errors = requireStrings(input, ["token"]);
  if (errors.length > 0) throw validationFailed(errors);
  const tokenHash = linkTokenHash(input.token);
  const link = await failClosed(() => links.findLink(core.db, tokenHash, ["email_cancel"], isoAt(core.config.clock())));
  if (link === undefined) throw linkInvalid();
  if (!linkMatches(link, await failClosed(() => users.findUserById(core.db, link.user_id)))) throw linkInvalid();
  const change = await core.revoker.revoke({ userId: link.user_id }, async (trx, now) => {
    // The user's row before the link: a flow holding the link while it waits for the user's row
    // (which another holds while it deletes the user's links) is a deadlock on PostgreSQL.
    await users.lockUser(trx, core.dialect, link.user_id);
    const used = await links.consumeLink(trx, tokenHash, ["email_cancel"], now);
    if (used === undefined) throw linkInvalid();
    const tokenVersion = await users.incrementTokenVersion(trx, used.user_id, now, {
      expectedVersion: used.token_version,
      expectedEmail: used.email,
    });
    if (tokenVersion === undefined) throw linkInvalid();
    const sessionIds = await sessions.revokeUserSessions(trx, used.user_id, now);
    await links.deleteUserLinks(trx, used.user_id);
    return { userId: used.user_id, tokenVersion, sessionIds };
  });
  const detail = { revoked_sessions: change.sessionIds?.length ?? 0 };
  recordEvent(core, { type: "email.change_cancelled", userId: link.user_id, actor: "self", client: context, detail });
}
