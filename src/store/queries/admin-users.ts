import { sql, type ExpressionBuilder, type Kysely } from "kysely";
import type { Dialect } from "../database.js";
import type { Database, Role } from "../schema.js";
import { PUBLIC_COLUMNS } from "./user-row.js";

/**
 * The writes of administration (docs/api.md section 10) and its listing. The last-admin rule is
 * part of each write's own WHERE clause: the change happens only if the user is not an enabled
 * admin, or another enabled admin remains. One statement decides, never a read and then a write.
 * Call `lockAdmins()` first in the same transaction: on PostgreSQL two demotions of the last two
 * admins then cannot both see the other one; on SQLite it takes the database's write lock.
 */

type UsersExpressions = ExpressionBuilder<Database, "users">;

/** The condition that keeps at least one enabled admin after `users` (the row being changed) stops being one. */
function keepsAnAdmin(eb: UsersExpressions) {
  return eb.or([
    eb("users.role", "<>", "admin"),
    eb("users.disabled_at", "is not", null),
    eb.exists(
      eb
        .selectFrom("users as other")
        .select(sql.lit(1).as("one"))
        .where("other.role", "=", "admin")
        .where("other.disabled_at", "is", null)
        .whereRef("other.id", "<>", "users.id"),
    ),
  ]);
}

/**
 * Serialises admin actions for the rest of the transaction. PostgreSQL: locks the admins' rows.
 * SQLite: takes the database's write lock with a write that changes nothing (as `BEGIN IMMEDIATE`
 * would). An action reads (the acting admin, the target) before it writes, and a transaction
 * begun by a read holds a snapshot: had another process (the CLI beside the server) committed
 * before the write, the write would fail with SQLITE_BUSY_SNAPSHOT (a 503). With the lock first,
 * the other process waits for this commit instead, up to the busy timeout.
 */
export async function lockAdmins(db: Kysely<Database>, dialect: Dialect): Promise<void> {
  if (dialect === "sqlite") {
    await db
      .updateTable("users")
      .set((eb) => ({ role: eb.ref("role") }))
      .where(sql<boolean>`0`)
      .execute();
    return;
  }
  // One transaction at a time gets past here: the rows below are those of the admins at this
  // moment, and no other holder can promote one meanwhile and then wait on ours (a deadlock).
  await sql`select pg_catalog.pg_advisory_xact_lock(${sql.lit(ADMINS_LOCK)})`.execute(db);
  await db.selectFrom("users").select("id").where("role", "=", "admin").orderBy("id").forUpdate().execute();
}

/** The transaction-scoped advisory lock of `lockAdmins` (a constant: "tokenver admins"). */
const ADMINS_LOCK = 7_461_627_146_101;

/** Whether the user is the one enabled admin left (a cheap early answer; the writes below decide). */
export async function isLastEnabledAdmin(db: Kysely<Database>, userId: string): Promise<boolean> {
  const admins = await db.selectFrom("users").select("id").where("role", "=", "admin").where("disabled_at", "is", null).limit(2).execute();
  return admins.length === 1 && admins[0]!.id === userId;
}

/**
 * Disables the account and increments its token version in one statement, unless that would
 * leave no enabled admin. The new version, or undefined (unknown user, or the last admin).
 */
export async function disableUser(db: Kysely<Database>, userId: string, now: string): Promise<number | undefined> {
  const row = await db
    .updateTable("users")
    .set((eb) => ({
      token_version: eb("token_version", "+", 1),
      // Disabling twice keeps the first instant (and still revokes whatever was issued since).
      disabled_at: eb.fn.coalesce("disabled_at", eb.val(now)),
      updated_at: now,
    }))
    .where("id", "=", userId)
    .where(keepsAnAdmin)
    .returning("token_version")
    .executeTakeFirst();
  return row?.token_version;
}

/** Enables the account again; false for an unknown user. Not a revocation: nothing issued before comes back. */
export async function enableUser(db: Kysely<Database>, userId: string, now: string): Promise<boolean> {
  const rows = await db.updateTable("users").set({ disabled_at: null, updated_at: now }).where("id", "=", userId).returning("id").execute();
  return rows.length === 1;
}

/** Sets the role; demoting the last enabled admin changes nothing. False when nothing changed (unknown user or refused). */
export async function setRole(db: Kysely<Database>, userId: string, role: Role, now: string): Promise<boolean> {
  let query = db.updateTable("users").set({ role, updated_at: now }).where("id", "=", userId);
  if (role !== "admin") query = query.where(keepsAnAdmin);
  const rows = await query.returning("id").execute();
  return rows.length === 1;
}

/**
 * Deletes the user (sessions and refresh tokens cascade) unless that would leave no enabled
 * admin. The deleted row's token version, or undefined (unknown user, or the last admin).
 */
export async function deleteUser(db: Kysely<Database>, userId: string): Promise<number | undefined> {
  const row = await db.deleteFrom("users").where("id", "=", userId).where(keepsAnAdmin).returning("token_version").executeTakeFirst();
  return row?.token_version;
}

/** Where a page of the admin listing starts: after this user, in (created_at, id) descending order. */
export interface UserKey {
  created_at: string;
  id: string;
}

/** `LIKE` with `\` as the escape character: the text matches literally, `%` and `_` included. */
export function literalContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Users newest first (ties by id, descending), at most `limit` after `after` (keyset pagination),
 * whose email or username contains `query` literally, ignoring case.
 */
export function listUsers(db: Kysely<Database>, dialect: Dialect, page: { limit: number; query?: string; after?: UserKey }) {
  let q = db.selectFrom("users").select(PUBLIC_COLUMNS);
  const query = page.query;
  if (query !== undefined && query !== "") {
    const pattern = literalContains(query.toLowerCase());
    // SQLite's LIKE ignores ASCII case on its own; PostgreSQL's ILIKE ignores case.
    const like = dialect === "postgres" ? sql.raw("ILIKE") : sql.raw("LIKE");
    q = q.where((eb) =>
      eb.or([
        sql<boolean>`${eb.ref("email")} ${like} ${pattern} ESCAPE '\\'`,
        sql<boolean>`${eb.ref("username")} ${like} ${pattern} ESCAPE '\\'`,
      ]),
    );
  }
  const after = page.after;
  if (after !== undefined) {
    q = q.where((eb) =>
      eb.or([eb("created_at", "<", after.created_at), eb.and([eb("created_at", "=", after.created_at), eb("id", "<", after.id)])]),
    );
  }
  return q.orderBy("created_at", "desc").orderBy("id", "desc").limit(page.limit).execute();
}

/** A user's newest live sessions for the admin view (the same rule as `GET /sessions`), newest first. */
export function listUserSessions(db: Kysely<Database>, userId: string, now: string, limit: number) {
  return db
    .selectFrom("sessions as s")
    .innerJoin("users as u", "u.id", "s.user_id")
    .select(["s.id", "s.created_at", "s.last_used_at", "s.user_agent", "s.ip"])
    .where("s.user_id", "=", userId)
    .where("s.revoked_at", "is", null)
    .where("s.expires_at", ">", now)
    .whereRef("s.token_version", "=", "u.token_version")
    .orderBy("s.created_at", "desc")
    .orderBy("s.id", "desc")
    .limit(limit)
    .execute();
}

/** The user's role as stored; undefined for an unknown user. */
export async function roleOf(db: Kysely<Database>, userId: string): Promise<{ role: Role; disabled: boolean } | undefined> {
  const row = await db.selectFrom("users").select(["role", "disabled_at"]).where("id", "=", userId).executeTakeFirst();
  return row && { role: row.role, disabled: row.disabled_at !== null };
}
