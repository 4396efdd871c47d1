import { Type, type TObject } from "typebox";
import { USER_DETAIL_SESSIONS } from "../../core/users/user-detail.js";
import { USERS_PAGE_DEFAULT, USERS_PAGE_MAX, USERS_QUERY_MAX_LENGTH } from "../../core/users/list-users.js";
import { SESSIONS_CURSOR_MAX_LENGTH } from "../../core/limits.js";
import { userSchema } from "../schemas.js";

/** The admin API's schemas (docs/api.md section 10). */

// Any id that is not a user's is the same 404; the service refuses odd lengths itself.
export const UserParams = Type.Object({ id: Type.String({ description: "A user's id." }) });

// Query values are strings (nothing is coerced): the digits are read by wire.ts, the range and the
// cursor checked by the domain (core/users/list-users.ts), each a 400 validation_failed.
export const AdminUsersQuery = Type.Object({
  query: Type.Optional(
    Type.String({
      maxLength: USERS_QUERY_MAX_LENGTH,
      description: "Only users whose email or username contains this text, literally (`%` and `_` are plain characters), ignoring case.",
    }),
  ),
  limit: Type.Optional(
    Type.String({ pattern: "^[0-9]{1,3}$", description: `Users per page, 1 to ${USERS_PAGE_MAX}; default ${USERS_PAGE_DEFAULT}.` }),
  ),
  cursor: Type.Optional(
    Type.String({ maxLength: SESSIONS_CURSOR_MAX_LENGTH, description: "The `next_cursor` of the previous page; omit it for the first." }),
  ),
});

export const userList = (profile: TObject) =>
  Type.Object({
    users: Type.Array(userSchema(profile)),
    next_cursor: Type.Union([Type.String(), Type.Null()], {
      description: "Pass it as `cursor` for the next page; `null` on the last page.",
    }),
  });

export const AdminSession = Type.Object({
  id: Type.String(),
  created_at: Type.String({ format: "date-time" }),
  last_used_at: Type.String({ format: "date-time" }),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()], { description: "The client address the session was created from." }),
});

export const userDetail = (profile: TObject) =>
  Type.Object({
    user: userSchema(profile),
    sessions: Type.Array(AdminSession, { description: `The user's live sessions, the newest ${USER_DETAIL_SESSIONS}, newest first.` }),
  });
