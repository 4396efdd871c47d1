import type { UserRow } from "../../store/queries/users.js";
import type { User } from "../types.js";

/** The user a caller may see: the row's built-in fields and its stored custom fields, never the hash. */
export function toUser<P extends object>(row: UserRow): User<P> {
  const profile = JSON.parse(row.profile) as P;
  return { ...profile, id: row.id, email: row.email, username: row.username, tokenVersion: row.token_version, createdAt: row.created_at };
}
