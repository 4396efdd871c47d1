import type { Kysely, Selectable, Updateable } from "kysely";
import type { Dialect } from "../database.js";
import type { Database, SessionsTable } from "../schema.js";
import { deleteExpired } from "./batched-delete.js";

export interface NewSession {
  id: string;
  user_id: string;
  token_version: number;
  now: string;
  expires_at: string;
  user_agent: string | null;
  ip: string | null;
  /** RFC 8176 values, space-separated; default `pwd`. */
  amr?: string;
}

export async function insertSession(db: Kysely<Database>, s: NewSession): Promise<void> {
  await db
    .insertInto("sessions")
    .values({
      id: s.id,
      user_id: s.user_id,
      token_version: s.token_version,
      created_at: s.now,
      last_used_at: s.now,
      expires_at: s.expires_at,
      revoked_at: null,
      user_agent: s.user_agent,
      ip: s.ip,
      ...(s.amr === undefined ? {} : { amr: s.amr }),
    })
    .execute();
}

/** Revokes every live session of the user, optionally sparing one; returns the revoked ids. */
export async function revokeUserSessions(db: Kysely<Database>, userId: string, now: string, exceptSessionId?: string): Promise<string[]> {
  let q = db.updateTable("sessions").set({ revoked_at: now }).where("user_id", "=", userId).where("revoked_at", "is", null);
  if (exceptSessionId !== undefined) q = q.where("id", "!=", exceptSessionId);
  const rows = await q.returning("id").execute();
  return rows.map((r) => r.id);
}

/** Applies `changes` to one live session of the user; false when there is no such live session. */
async function updateLiveSession(
  db: Kysely<Database>,
  userId: string,
  sessionId: string,
  changes: Updateable<SessionsTable>,
): Promise<boolean> {
  const rows = await db
    .updateTable("sessions")
    .set(changes)
    .where("id", "=", sessionId)
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null)
    .returning("id")
    .execute();
  return rows.length === 1;
}

/** Whether the user has a session of this id that is not revoked (the update below decides for good). */
export async function isLiveSession(db: Kysely<Database>, userId: string, sessionId: string): Promise<boolean> {
  const row = await db
    .selectFrom("sessions")
    .select("id")
    .where("id", "=", sessionId)
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Inside a write's transaction, before it writes: true while the user's version is `tokenVersion`
 * and the session is live. On PostgreSQL both rows are locked until the transaction ends, the
 * user's first (as every version bump takes it first): a revocation racing the write waits for it,
 * or the write for the revocation and then reads it. SQLite's one connection runs the transaction
 * alone; another process's commit since its read fails the write (a stale WAL snapshot).
 */
export async function lockCurrentSession(
  trx: Kysely<Database>,
  dialect: Dialect,
  userId: string,
  sessionId: string,
  tokenVersion: number,
): Promise<boolean> {
  let user = trx.selectFrom("users").select("id").where("id", "=", userId).where("token_version", "=", tokenVersion);
  if (dialect === "postgres") user = user.forUpdate();
  if ((await user.executeTakeFirst()) === undefined) return false;
  let session = trx
    .selectFrom("sessions")
    .select("id")
    .where("id", "=", sessionId)
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null);
  if (dialect === "postgres") session = session.forShare();
  return (await session.executeTakeFirst()) !== undefined;
}

/** Revokes one live session of the user; false when there is no such live session. */
export function revokeSession(db: Kysely<Database>, userId: string, sessionId: string, now: string): Promise<boolean> {
  return updateLiveSession(db, userId, sessionId, { revoked_at: now });
}

/** Moves a live session of the user to a new version; false when it is not live any more. */
export function rekeySession(
  db: Kysely<Database>,
  userId: string,
  sessionId: string,
  tokenVersion: number,
  now: string,
  expiresAt: string,
): Promise<boolean> {
  return updateLiveSession(db, userId, sessionId, { token_version: tokenVersion, last_used_at: now, expires_at: expiresAt });
}

export async function touchSession(db: Kysely<Database>, sessionId: string, now: string, expiresAt: string): Promise<void> {
  await db.updateTable("sessions").set({ last_used_at: now, expires_at: expiresAt }).where("id", "=", sessionId).execute();
}

/** Where a page of sessions starts: after this session, in (created_at, id) order. */
export interface SessionKey {
  created_at: string;
  id: string;
}

/**
 * Sessions a user can still use: not revoked, not expired, not left behind by a version bump;
 * oldest first, ties by id, at most `limit` of them after `after` (keyset pagination: a session
 * created meanwhile sorts after every older one, so pages neither repeat nor skip).
 */
export function listLiveSessions(db: Kysely<Database>, userId: string, now: string, page: { limit: number; after?: SessionKey }) {
  let q = db
    .selectFrom("sessions as s")
    .innerJoin("users as u", "u.id", "s.user_id")
    .select(["s.id", "s.created_at", "s.last_used_at", "s.user_agent"])
    .where("s.user_id", "=", userId)
    .where("s.revoked_at", "is", null)
    .where("s.expires_at", ">", now)
    .whereRef("s.token_version", "=", "u.token_version");
  const after = page.after;
  if (after !== undefined) {
    q = q.where((eb) =>
      eb.or([eb("s.created_at", ">", after.created_at), eb.and([eb("s.created_at", "=", after.created_at), eb("s.id", ">", after.id)])]),
    );
  }
  return q.orderBy("s.created_at", "asc").orderBy("s.id", "asc").limit(page.limit).execute();
}

/**
 * Deletes sessions that expired before `before`; their refresh tokens cascade. A revoked session
 * stays until it would have expired, so its refresh tokens keep answering `token_revoked`.
 */
export function pruneSessions(db: Kysely<Database>, before: string): Promise<number> {
  return deleteExpired(db, "sessions", before);
}
