import type { Kysely, Selectable } from "kysely";
import type { Dialect } from "../database.js";
import type { Database, UsersTable } from "../schema.js";

export type UserRow = Selectable<UsersTable>;

export interface NewUser {
  id: string;
  email: string;
  username: string | null;
  password_hash: string;
  profile: string;
  now: string;
}

export async function insertUser(db: Kysely<Database>, user: NewUser): Promise<UserRow> {
  return db
    .insertInto("users")
    .values({
      id: user.id,
      email: user.email,
      username: user.username,
      password_hash: user.password_hash,
      profile: user.profile,
      created_at: user.now,
      updated_at: user.now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findUserByEmail(db: Kysely<Database>, email: string): Promise<UserRow | undefined> {
  return db.selectFrom("users").selectAll().where("email", "=", email).executeTakeFirst();
}

export function findUserById(db: Kysely<Database>, id: string): Promise<UserRow | undefined> {
  return db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
}

/**
 * The atomic increment at the heart of tokenver: no read-modify-write, so no lost update.
 * With `expectedVersion`, only if the version is still that one (undefined otherwise): a caller
 * authenticated at an older version must not act after another revocation has passed it.
 */
export async function incrementTokenVersion(
  db: Kysely<Database>,
  userId: string,
  now: string,
  options: { passwordHash?: string; expectedVersion?: number } = {},
): Promise<number | undefined> {
  let query = db
    .updateTable("users")
    .set((eb) => ({
      token_version: eb("token_version", "+", 1),
      updated_at: now,
      ...(options.passwordHash === undefined ? {} : { password_hash: options.passwordHash }),
    }))
    .where("id", "=", userId);
  if (options.expectedVersion !== undefined) query = query.where("token_version", "=", options.expectedVersion);
  const row = await query.returning("token_version").executeTakeFirst();
  return row?.token_version;
}

export async function updateUserProfile(
  db: Kysely<Database>,
  userId: string,
  changes: { username?: string | null; profile?: string },
  now: string,
): Promise<UserRow | undefined> {
  return db
    .updateTable("users")
    .set({ ...changes, updated_at: now })
    .where("id", "=", userId)
    .returningAll()
    .executeTakeFirst();
}

/**
 * The stored custom fields, locked for the rest of the transaction on PostgreSQL, so concurrent
 * patches of different fields both survive (SQLite serialises writers on its own).
 */
export async function selectProfileForUpdate(db: Kysely<Database>, dialect: Dialect, userId: string): Promise<string | undefined> {
  let query = db.selectFrom("users").select("profile").where("id", "=", userId);
  if (dialect === "postgres") query = query.forUpdate();
  return (await query.executeTakeFirst())?.profile;
}
