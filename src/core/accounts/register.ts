import { randomUUID } from "node:crypto";
import { isUniqueViolation } from "../../store/database.js";
import * as users from "../../store/queries/users.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { AuthError, unavailable, validationFailed, type FieldError } from "../errors.js";
import { checkPasswordPolicy } from "../passwords/policy.js";
import { hashPassword } from "../passwords/hashing.js";
import { planSession, tokenPair } from "../sessions/issue.js";
import type { RegisterInput, RequestContext, SignIn } from "../types.js";
import { checkNewEmail, checkUsername, pickFields, schemaErrors } from "../validation.js";
import { toUser } from "./user.js";

/** Creates the account (version 0) and its first session; `email_taken` for a known address. */
export async function register<P extends object>(core: Core, input: RegisterInput, context: RequestContext): Promise<SignIn<P>> {
  const { email, errors: emailErrors } = checkNewEmail(input?.email);
  const errors: FieldError[] = [...emailErrors];
  if (typeof input?.password !== "string") errors.push({ field: "password", message: "must be a string" });
  else errors.push(...(await checkPasswordPolicy(input.password)));
  const username = input?.username ?? null;
  errors.push(...checkUsername(username));
  const profile = pickFields(input ?? {}, core.config.userFields);
  errors.push(...schemaErrors(core.schemas.profile, profile));
  if (errors.length > 0) throw validationFailed(errors);

  const passwordHash = await hashPassword(input.password);
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
      await session.persist(trx);
      return inserted;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new AuthError("email_taken", "An account with this email already exists.");
    throw unavailable(error);
  }
  return { user: toUser<P>(row), ...tokenPair(core, userId, session.sessionId, 0, session.refreshToken) };
}
