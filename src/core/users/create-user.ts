import { randomUUID } from "node:crypto";
import { isUniqueViolation } from "../../store/database.js";
import * as users from "../../store/queries/users.js";
import type { Role } from "../../store/schema.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { AuthError, unavailable, validationFailed, type FieldError } from "../errors.js";
import { hashNewPassword } from "../passwords/form.js";
import { checkPasswordPolicy } from "../passwords/policy.js";
import { toUser } from "../accounts/user.js";
import type { User } from "../types.js";
import { checkNewEmail, checkUsername } from "../validation.js";
import { recordAdminAction, requireStillAdmin, type AdminActionOptions } from "./actor.js";

/** An account created from the server side (an operator, a seed script): no session, no tokens. */
export interface CreateUserInput {
  email: string;
  password: string;
  username?: string | null;
  /** Default `"user"`. */
  role?: Role;
}

/**
 * Creates an account with the same rules as registration (email normalised, password policy,
 * `email_taken`), but no session and no registration throttle: the caller is trusted code.
 * Custom user fields start empty.
 */
export async function createUser<P extends object>(core: Core, input: CreateUserInput, options: AdminActionOptions = {}): Promise<User<P>> {
  const { email, errors: emailErrors } = checkNewEmail(input?.email);
  const errors: FieldError[] = [...emailErrors];
  if (typeof input?.password !== "string") errors.push({ field: "password", message: "must be a string" });
  else errors.push(...(await checkPasswordPolicy(input.password)));
  const username = input?.username ?? null;
  errors.push(...checkUsername(username));
  const role = input?.role ?? "user";
  if (role !== "user" && role !== "admin") errors.push({ field: "role", message: "must be user or admin" });
  if (errors.length > 0) throw validationFailed(errors);

  const ticket = core.hashQueue.reserve();
  let passwordHash: string;
  try {
    passwordHash = await ticket.run(() => hashNewPassword(input.password));
  } finally {
    ticket.release();
  }
  const now = isoAt(core.config.clock());
  try {
    const row = await core.db.transaction().execute(async (trx) => {
      await requireStillAdmin(core, trx, options);
      const inserted = await users.insertUser(trx, {
        id: randomUUID(),
        email,
        username: username as string | null,
        password_hash: passwordHash,
        profile: "{}",
        now,
      });
      // The operator vouches for the address: no verification mail, and sign-in works even where
      // a verified address is required (docs/recovery.md).
      return trx
        .updateTable("users")
        .set({ role, email_verified_at: now })
        .where("id", "=", inserted.id)
        .returningAll()
        .executeTakeFirstOrThrow();
    });
    recordAdminAction(core, "admin.create", row.id, options, { role });
    return toUser<P>(row);
  } catch (error) {
    if (error instanceof AuthError) throw error;
    if (isUniqueViolation(error)) throw new AuthError("email_taken", "An account with this email already exists.");
    throw unavailable(error);
  }
}
