import * as users from "../../store/queries/users.js";
import type { Core } from "../context.js";
import { failClosed } from "../errors.js";
import { toUser } from "../accounts/user.js";
import type { User } from "../types.js";
import { checkLookupEmail, isStorableId, normalizeEmail } from "../validation.js";
import { USER_ID_MAX_LENGTH } from "./actor.js";

/** The user of this id, or null. Never the password hash. */
export async function findUserById<P extends object>(core: Core, userId: string): Promise<User<P> | null> {
  if (!isStorableId(userId, USER_ID_MAX_LENGTH)) return null;
  const row = await failClosed(() => users.findUserById(core.db, userId));
  return row === undefined ? null : toUser<P>(row);
}

/**
 * The user of this email, or null. The email is normalised as login normalises it (NFKC,
 * trimmed, lower-cased, the domain in ASCII), so `  Ann@Example.COM ` finds `ann@example.com`.
 * Input that cannot be an email (not a string, lone surrogates, control characters) finds no one.
 */
export async function findUserByEmail<P extends object>(core: Core, email: string): Promise<User<P> | null> {
  if (typeof email !== "string" || checkLookupEmail(email).length > 0) return null;
  const key = normalizeEmail(email);
  const row = await failClosed(() => users.findUserByEmail(core.db, key));
  return row === undefined ? null : toUser<P>(row);
}
