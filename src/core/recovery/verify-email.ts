import { isUniqueViolation } from "../../store/database.js";
import * as links from "../../store/queries/links.js";
import * as sessions from "../../store/queries/sessions.js";
import * as users from "../../store/queries/users.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { AuthError, failClosed, validationFailed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import { toUser } from "../accounts/user.js";
import type { RequestContext, User } from "../types.js";
import { requireStrings } from "../validation.js";
import { linkInvalid, linkMatches, linkTokenHash } from "./link.js";

/**
 * `POST /email/verify {token}` (docs/api.md section 8): the link of a registration (or a resend)
 * marks the address verified; the link of an email change switches the address (verified),
 * increments the version, revokes every session and tells the old address. Either way the link
 * is used up by one conditional DELETE, and holds only while the account's address and version
 * are the ones it was made for. `link_invalid` otherwise; `email_taken` when the new address was
 * registered meanwhile. Resolves to the user as it now is.
 */
export async function verifyEmail<P extends object>(core: Core, input: { token: string }, context: RequestContext): Promise<User<P>> {
  const errors = requireStrings(input, ["token"]);
  if (errors.length > 0) throw validationFailed(errors);
  const tokenHash = linkTokenHash(input.token);
  const link = await failClosed(() => links.findLink(core.db, tokenHash, ["verify", "email_change"], isoAt(core.config.clock())));
  if (link === undefined) throw linkInvalid();
  return link.purpose === "verify" ? confirmAddress<P>(core, tokenHash, link) : switchAddress<P>(core, tokenHash, link, context);
}

async function confirmAddress<P extends object>(core: Core, tokenHash: string, link: links.LinkRow): Promise<User<P>> {
  const now = isoAt(core.config.clock());
  const row = await failClosed(() =>
    core.db.transaction().execute(async (trx) => {
      // The user's row before the link, as every flow that uses up a link (docs/architecture.md, "Lock order").
      await users.lockUser(trx, core.dialect, link.user_id);
      const used = await links.consumeLink(trx, tokenHash, ["verify"], now);
      if (used === undefined) throw linkInvalid();
      const updated = await trx
        .updateTable("users")
        .set((eb) => ({ email_verified_at: eb.fn.coalesce("email_verified_at", eb.val(now)), updated_at: now }))
        .where("id", "=", used.user_id)
        .where("email", "=", used.email)
        .where("token_version", "=", used.token_version)
        .returningAll()
        .executeTakeFirst();
      if (updated === undefined) throw linkInvalid();
      return updated;
    }),
  );
  await core.revoker.userChanged(row.id);
  return toUser<P>(row);
}

async function switchAddress<P extends object>(
  core: Core,
  tokenHash: string,
  link: links.LinkRow,
  context: RequestContext,
): Promise<User<P>> {
  const user = await failClosed(() => users.findUserById(core.db, link.user_id));
  if (!linkMatches(link, user)) throw linkInvalid();
  const change = await core.revoker.revoke({ userId: link.user_id }, async (trx, now) => {
    await users.lockUser(trx, core.dialect, link.user_id);
    const used = await links.consumeLink(trx, tokenHash, ["email_change"], now);
    if (used === undefined || used.new_email === null) throw linkInvalid();
    let tokenVersion: number | undefined;
    try {
      tokenVersion = await users.incrementTokenVersion(trx, used.user_id, now, {
        expectedVersion: used.token_version,
        expectedEmail: used.email,
        newEmail: used.new_email,
      });
    } catch (error) {
      // Registered meanwhile by someone else: nothing changes (the transaction rolls back).
      if (isUniqueViolation(error)) throw new AuthError("email_taken", "An account with this email already exists.");
      throw error;
    }
    if (tokenVersion === undefined) throw linkInvalid();
    const sessionIds = await sessions.revokeUserSessions(trx, used.user_id, now);
    await links.deleteUserLinks(trx, used.user_id);
    // The old address hears of it (the account's stored address is the new one now).
    await core.mail.enqueue({ to: used.email, template: "email_changed", data: { newEmail: used.new_email } }, trx);
    return { userId: used.user_id, tokenVersion, sessionIds };
  });
  const detail = { revoked_sessions: change.sessionIds?.length ?? 0 };
  recordEvent(core, { type: "email.changed", userId: link.user_id, actor: "self", client: context, detail });
  const row = await failClosed(() => users.findUserById(core.db, link.user_id));
  if (row === undefined) throw linkInvalid();
  return toUser<P>(row);
}
