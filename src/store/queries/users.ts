import type { Kysely, Selectable } from "kysely";
import { emailKey } from "../../lib/email-key.js";
import type { Dialect } from "../database.js";
import type { Database, UsersTable } from "../schema.js";

/**
 * The user's row, locked until the transaction ends on PostgreSQL: first in every transaction that
 * then takes rows of the user's (its sessions, its mailed links), as every version bump does
 * (docs/architecture.md, "Lock order"). SQLite has one writer at a time: nothing to do.
 */
export async function lockUser(db: Kysely<Database>, dialect: Dialect, userId: string): Promise<void> {
  if (dialect !== "postgres") return;
  await db.selectFrom("users").select("id").where("id", "=", userId).forUpdate().execute();
}

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
 * Inside a password sign-in's transaction: true while the user's row is as the password check read
 * it (the same version, no second factor, not disabled). On PostgreSQL the row is locked until the
 * transaction ends (`FOR UPDATE`, taken before the session is written): a flow that revokes the
 * user's sessions locks the row first too, so it either waits for the sign-in and then sees its
 * session, or commits first and the sign-in sees it here. On SQLite it runs after the session's
 * insert, under the write lock that insert took: nothing commits in between, and the transaction
 * never reads before it writes (another process's commit would fail it).
 */
export async function signInStillValid(trx: Kysely<Database>, dialect: Dialect, userId: string, tokenVersion: number): Promise<boolean> {
  let query = trx
    .selectFrom("users")
    .select("id")
    .where("id", "=", userId)
    .where("token_version", "=", tokenVersion)
    .where("mfa_enabled_at", "is", null)
    .where("disabled_at", "is", null);
  if (dialect === "postgres") query = query.forUpdate();
  return (await query.executeTakeFirst()) !== undefined;
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
  options: {
    passwordHash?: string;
    expectedVersion?: number;
    /** Only if the address is still this one (a mailed link's binding). */
    expectedEmail?: string;
    /** The address counts as verified from now on (a mailed link proved it), unless it already did. */
    verifyEmail?: boolean;
    /** Switches the address (a confirmed email change), verified. */
    newEmail?: string;
  } = {},
): Promise<number | undefined> {
  let query = db
    .updateTable("users")
    .set((eb) => ({
      token_version: eb("token_version", "+", 1),
      updated_at: now,
      ...(options.passwordHash === undefined ? {} : { password_hash: options.passwordHash }),
      ...(options.verifyEmail === true ? { email_verified_at: eb.fn.coalesce("email_verified_at", eb.val(now)) } : {}),
      ...(options.newEmail === undefined ? {} : { email: options.newEmail, email_verified_at: now }),
    }))
    .where("id", "=", userId);
  if (options.expectedVersion !== undefined) query = query.where("token_version", "=", options.expectedVersion);
  if (options.expectedEmail !== undefined) query = query.where("email", "=", options.expectedEmail);
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

/**
 * Replaces a password hash with the same password in another form (core/passwords/form.ts), only
 * if the stored hash is still `expected`: one conditional UPDATE, so a password change that
 * landed meanwhile is never overwritten. Not a revocation: the password is the same.
 */
export async function replacePasswordHash(db: Kysely<Database>, userId: string, expected: string, next: string): Promise<boolean> {
  const result = await db
    .updateTable("users")
    .set({ password_hash: next })
    .where("id", "=", userId)
    .where("password_hash", "=", expected)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Accounts whose emails are one lookup key (lib/email-key.ts): left as they were, never merged. */
export interface EmailKeyCollision {
  key: string;
  ids: string[];
}

/** The `tokenver_meta` row that lists the collisions still to resolve (JSON `EmailKeyCollision[]`). */
export const EMAIL_KEY_COLLISIONS = "email_key_collisions";

/**
 * Rewrites each email of `rows` to its lookup key, except where two accounts would share one: an
 * email whose key another of `rows` has too, or another account already holds, stays as it is,
 * and the group is returned. Only changed rows are written, each only if its email is still the
 * one read.
 */
export async function rekeyEmails(db: Kysely<Database>, rows: ReadonlyArray<{ id: string; email: string }>): Promise<EmailKeyCollision[]> {
  const groups = new Map<string, Array<{ id: string; email: string }>>();
  for (const row of rows) {
    const key = emailKey(row.email);
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  const collisions: EmailKeyCollision[] = [];
  for (const [key, members] of groups) {
    if (members.length > 1) {
      collisions.push({ key, ids: members.map((m) => m.id).sort() });
      continue;
    }
    const row = members[0]!;
    if (row.email === key) continue;
    const holder = await db.selectFrom("users").select("id").where("email", "=", key).where("id", "<>", row.id).executeTakeFirst();
    if (holder !== undefined) {
      collisions.push({ key, ids: [row.id, holder.id].sort() });
      continue;
    }
    await db.updateTable("users").set({ email: key }).where("id", "=", row.id).where("email", "=", row.email).execute();
  }
  return collisions;
}

/** Records the collisions to report (none: removes the record). */
export async function recordEmailKeyCollisions(db: Kysely<Database>, collisions: EmailKeyCollision[]): Promise<void> {
  if (collisions.length === 0) {
    await db.deleteFrom("tokenver_meta").where("key", "=", EMAIL_KEY_COLLISIONS).execute();
    return;
  }
  const value = JSON.stringify(collisions);
  await db
    .insertInto("tokenver_meta")
    .values({ key: EMAIL_KEY_COLLISIONS, value })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
    .execute();
}

/**
 * The recorded collisions that still hold, at start-up (create-auth.ts warns about them). The
 * accounts of a group an operator has resolved (all but one email changed, or accounts removed)
 * are re-keyed now, so the one left is found by its key again; the record shrinks to what is left.
 */
export async function settleEmailKeyCollisions(db: Kysely<Database>): Promise<EmailKeyCollision[]> {
  const record = await db.selectFrom("tokenver_meta").select("value").where("key", "=", EMAIL_KEY_COLLISIONS).executeTakeFirst();
  if (record === undefined) return [];
  const recorded = JSON.parse(record.value) as EmailKeyCollision[];
  const ids = [...new Set(recorded.flatMap((c) => c.ids))];
  const rows = ids.length === 0 ? [] : await db.selectFrom("users").select(["id", "email"]).where("id", "in", ids).execute();
  const left = await rekeyEmails(db, rows);
  await recordEmailKeyCollisions(db, left);
  return left;
}

/**
 * What createAuth() tells `onWarning` at start-up about the recorded collisions (after settling
 * them): nothing when there are none. User ids only, never the addresses.
 */
export async function emailKeyWarnings(db: Kysely<Database>): Promise<string[]> {
  let left: EmailKeyCollision[];
  try {
    left = await settleEmailKeyCollisions(db);
  } catch {
    return ["could not check the accounts whose emails collide under the Unicode email rules (tokenver_meta email_key_collisions)"];
  }
  if (left.length === 0) return [];
  const groups = left.map((c) => c.ids.join(" = ")).join("; ");
  return [
    `${left.length} group(s) of accounts have emails that are one address under the Unicode email rules ` +
      `(NFKC, case, IDNA) and were left as they were, not merged: user ids ${groups}. Change the email of all ` +
      `but one account of each group (or remove accounts); the rest is re-keyed at the next start.`,
  ];
}
