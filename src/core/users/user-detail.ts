import * as admins from "../../store/queries/admin-users.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { failClosed } from "../errors.js";
import { toUser } from "../accounts/user.js";
import type { User } from "../types.js";
import { requireUser } from "./actor.js";

/** A live session as an administrator sees it. */
export interface AdminSessionInfo {
  id: string;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601. */
  lastUsedAt: string;
  userAgent: string | null;
  /** The client address the session was created from. */
  ip: string | null;
}

/** A user and their live sessions (the newest 100, newest first). */
export interface UserDetail<P extends object = {}> {
  user: User<P>;
  sessions: AdminSessionInfo[];
}

export const USER_DETAIL_SESSIONS = 100;

/** The user and their newest live sessions; `not_found` for an unknown user. */
export async function getUserDetail<P extends object>(core: Core, userId: string): Promise<UserDetail<P>> {
  const row = await requireUser(core, userId);
  const now = isoAt(core.config.clock());
  const rows = await failClosed(() => admins.listUserSessions(core.db, userId, now, USER_DETAIL_SESSIONS));
  return {
    user: toUser<P>(row),
    sessions: rows.map((s) => ({ id: s.id, createdAt: s.created_at, lastUsedAt: s.last_used_at, userAgent: s.user_agent, ip: s.ip })),
  };
}
