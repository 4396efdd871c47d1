import { randomUUID } from "node:crypto";
import { isUniqueViolation } from "../../store/database.js";
import * as users from "../../store/queries/users.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { AuthError, unavailable, validationFailed, type FieldError } from "../errors.js";
import { checkPasswordPolicy } from "../passwords/policy.js";
import { hashNewPassword } from "../passwords/form.js";
import { planSession, tokenPair } from "../sessions/issue.js";
import type { RegisterInput, RequestContext, SignIn, SignUp } from "../types.js";
import { issueLink } from "../recovery/link.js";
import { checkNewEmail, checkUsername, pickFields, schemaErrors } from "../validation.js";
import { toUser } from "./user.js";

/**
 * Creates the account (version 0) and its first session; `email_taken` for a known address.
 * Throttled per client address (each registration costs an argon2id hash). A verification link
 * is mailed to the address in the same transaction (docs/api.md section 8). With
 * `requireVerifiedEmail`, no session is made and only the user is returned: tokens come with the
 * first sign-in after the address is verified.
 */
export async function register<P extends object>(core: Core, input: RegisterInput, context: RequestContext): Promise<SignUp<P>> {
  const { email, errors: emailErrors } = checkNewEmail(input?.email);
  const errors: FieldError[] = [...emailErrors];
  if (typeof input?.password !== "string") errors.push({ field: "password", message: "must be a string" });
  else errors.push(...(await checkPasswordPolicy(input.password)));
  const username = input?.username ?? null;
  errors.push(...checkUsername(username));
  const profile = pickFields(input ?? {}, core.config.userFields);
  errors.push(...schemaErrors(core.schemas.profile, profile));
  if (errors.length > 0) throw validationFailed(errors);

  const passwordHash = await hashOf(core, input.password, context);
  const nowMs = core.config.clock();
  const userId = randomUUID();
  const session = planSession(core, userId, 0, nowMs, context);
  let row: users.UserRow;
  try {
    row = await core.db.transaction().execute(async (trx) => {
      const inserted = await users.insertUser(trx, {
        id: userId,
        email,
        username: username as string | null,
        password_hash: passwordHash,
        profile: JSON.stringify(profile),
        now: isoAt(nowMs),
      });
      const link = await issueLink(core, trx, { userId, purpose: "verify", email, tokenVersion: 0, ttl: core.config.verifyTtl });
      await core.mail.enqueue({ to: email, template: "verify_email", data: { link } }, trx);
      if (!core.config.requireVerifiedEmail) await session.persist(trx);
      return inserted;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new AuthError("email_taken", "An account with this email already exists.");
    throw unavailable(error);
  }
  if (core.config.requireVerifiedEmail) return { user: toUser<P>(row) };
  return { user: toUser<P>(row), ...tokenPair(core, userId, session.sessionId, 0, session.refreshToken) } satisfies SignIn<P>;
}

/**
 * The password's hash, once the request has a place in the hashing queue (503 at once when it is
 * full) and the address a registration left in its window (429 otherwise). The place comes first,
 * so a request the queue refuses uses up no registration of its address.
 */
async function hashOf(core: Core, password: string, context: RequestContext): Promise<string> {
  const ticket = core.hashQueue.reserve();
  try {
    await core.throttle.countRegistration(context.ip);
    return await ticket.run(() => hashNewPassword(password));
  } finally {
    ticket.release();
  }
}
