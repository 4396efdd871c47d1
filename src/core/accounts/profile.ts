import { createUserRowReader, type UserRowReader, type UserRowSource } from "../../store/queries/user-row.js";
import * as users from "../../store/queries/users.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { AuthError, failClosed, validationFailed, type FieldError } from "../errors.js";
import type { Principal, User } from "../types.js";
import { checkUsername, pickFields, schemaErrors } from "../validation.js";
import { toUser } from "./user.js";

/** One reader per store (a prepared statement on SQLite), built on the first call. */
const readers = new WeakMap<object, UserRowReader>();

function userRowReader(core: Core, store: UserRowSource | undefined): UserRowReader {
  const source = store ?? { dialect: core.dialect, db: core.db };
  const key = store ?? core.db;
  let reader = readers.get(key);
  if (reader === undefined) {
    reader = createUserRowReader(source);
    readers.set(key, reader);
  }
  return reader;
}

/**
 * The caller's user: from the node's user-row cache when it holds the row at the principal's
 * token version (exact: every writer of the row announces its commit, `revoker.userChanged`),
 * else read by primary key. `store` carries the driver handles of the hot read
 * (store/queries/user-row.ts); without it the read goes through Kysely with a precompiled query.
 */
export async function getUser<P extends object>(core: Core, principal: Principal, store?: UserRowSource): Promise<User<P>> {
  const read = userRowReader(core, store);
  const row = await failClosed(() => core.userRows.readUser(principal.userId, principal.tokenVersion, read));
  if (row === undefined) throw unknownUser();
  return toUser<P>(row);
}

/** Updates `username` and custom fields; every other key is ignored. */
export async function updateProfile<P extends object>(core: Core, principal: Principal, input: Record<string, unknown>): Promise<User<P>> {
  if (input === null || typeof input !== "object" || Array.isArray(input))
    throw validationFailed([{ field: "", message: "must be an object" }]);
  const errors: FieldError[] = [];
  const changes = pickFields(input, core.config.userFields);
  errors.push(...schemaErrors(core.schemas.patch, changes));
  const hasUsername = Object.hasOwn(input, "username");
  if (hasUsername) errors.push(...checkUsername(input.username ?? null));
  if (errors.length > 0) throw validationFailed(errors);
  const now = isoAt(core.config.clock());
  const row = await failClosed(() =>
    core.db.transaction().execute(async (trx) => {
      const current = await users.selectProfileForUpdate(trx, core.dialect, principal.userId);
      if (current === undefined) return undefined;
      const profile = JSON.stringify({ ...(JSON.parse(current) as object), ...changes });
      const username = hasUsername ? { username: (input.username ?? null) as string | null } : {};
      return users.updateUserProfile(trx, principal.userId, { profile, ...username }, now);
    }),
  );
  if (row === undefined) throw unknownUser();
  await core.revoker.userChanged(principal.userId);
  return toUser<P>(row);
}

function unknownUser(): AuthError {
  return new AuthError("token_invalid", "The token's user is unknown.", { tokenPresented: true });
}
