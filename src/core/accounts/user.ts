import type { PublicUserRow } from "../../store/queries/user-row.js";
import type { User } from "../types.js";

/**
 * The user a caller may see: the row's built-in fields and its stored custom fields, never the
 * hash. The built-in fields win over a stored custom field of the same name.
 *
 * Built on the object JSON.parse returns, by assignment: spreading a parsed object into a new
 * literal (`{ ...JSON.parse(p), id }`) takes V8's slow object-clone path, measured at 3 to 14x the
 * cost of this (bench/micro/profile-path.ts), on every `GET /profile`.
 */
export function toUser<P extends object>(row: PublicUserRow): User<P> {
  const parsed: unknown = JSON.parse(row.profile);
  // Stored profiles are JSON objects (written by register and updateProfile); anything else reads as none.
  const user = (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : {}) as Record<string, unknown>;
  user.id = row.id;
  user.email = row.email;
  user.username = row.username;
  user.tokenVersion = row.token_version;
  user.createdAt = row.created_at;
  user.role = row.role;
  user.disabled = row.disabled_at !== null;
  user.mfaEnabled = row.mfa_enabled_at !== null;
  // PostgreSQL's driver may hand integers back as they are; SQLite as numbers.
  user.recoveryCodesLeft = Number(row.recovery_codes_left);
  user.emailVerified = row.email_verified_at !== null;
  return user as User<P>;
}
