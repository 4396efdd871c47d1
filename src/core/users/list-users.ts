import * as admins from "../../store/queries/admin-users.js";
import type { Core } from "../context.js";
import { failClosed, validationFailed } from "../errors.js";
import { EMAIL_MAX_LENGTH } from "../limits.js";
import { decodeCursor, encodeCursor } from "../sessions/manage.js";
import { toUser } from "../accounts/user.js";
import type { User } from "../types.js";
import { HOLDS_NUL, isWellFormed } from "../validation.js";

/** Which page of `listUsers`. */
export interface ListUsersOptions {
  /** Only users whose email or username contains this text, literally (`%` and `_` are plain characters), ignoring case. */
  query?: string | undefined;
  /** 1 to 100; default 50. */
  limit?: number | undefined;
  /** The `nextCursor` of the previous page; none (or null) for the first page. */
  cursor?: string | null | undefined;
}

/** One page of users, newest first; `nextCursor` is null on the last page. */
export interface UserPage<P extends object = {}> {
  users: User<P>[];
  nextCursor: string | null;
}

export const USERS_PAGE_MAX = 100;
export const USERS_PAGE_DEFAULT = 50;
/** Longer than any email or username: no search text is longer. */
export const USERS_QUERY_MAX_LENGTH = EMAIL_MAX_LENGTH;

/**
 * Users newest first (ties by id), a page at a time after `cursor`, optionally those whose email
 * or username contains `query` literally. A cursor that is not one this function gave, a `limit`
 * out of range or a `query` longer than an email is `validation_failed`.
 */
export async function listUsers<P extends object>(core: Core, options: ListUsersOptions = {}): Promise<UserPage<P>> {
  const limit = options.limit ?? USERS_PAGE_DEFAULT;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > USERS_PAGE_MAX) {
    throw validationFailed([{ field: "limit", message: `must be an integer from 1 to ${USERS_PAGE_MAX}` }]);
  }
  const query = options.query ?? undefined;
  if (query !== undefined && (typeof query !== "string" || query.length > USERS_QUERY_MAX_LENGTH || !isWellFormed(query))) {
    throw validationFailed([{ field: "query", message: `must be text of at most ${USERS_QUERY_MAX_LENGTH} characters` }]);
  }
  if (query !== undefined && query.includes("\u0000")) throw validationFailed([{ field: "query", message: HOLDS_NUL }]);
  const cursor = options.cursor ?? undefined;
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  // One row more than the page tells whether another page follows.
  const rows = await failClosed(() =>
    admins.listUsers(core.db, core.dialect, { limit: limit + 1, ...(query ? { query } : {}), ...(after ? { after } : {}) }),
  );
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    users: page.map((row) => toUser<P>(row)),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor({ created_at: last.created_at, id: last.id }) : null,
  };
}
