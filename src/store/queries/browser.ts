import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

/** The CSRF epoch of a live session of this user; undefined when there is none. */
export async function readCsrfEpoch(db: Kysely<Database>, userId: string, sessionId: string): Promise<number | undefined> {
  const row = await db
    .selectFrom("sessions")
    .select("csrf_epoch")
    .where("id", "=", sessionId)
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return row?.csrf_epoch;
}

/** Moves the session's CSRF epoch on by one (one statement, no read-modify-write). */
export async function incrementCsrfEpoch(db: Kysely<Database>, sessionId: string): Promise<void> {
  await db
    .updateTable("sessions")
    .set((eb) => ({ csrf_epoch: eb("csrf_epoch", "+", 1) }))
    .where("id", "=", sessionId)
    .execute();
}

// ---- The refresh grace (core/browser/grace.ts) ------------------------------------------------

/**
 * Uses a refresh token by `POST /token/refresh`, if and only if it was unused (the single atomic
 * step of rotation), remembering its successor and, for the grace window, the sealed successor.
 */
export async function rotateRefreshToken(
  db: Kysely<Database>,
  id: string,
  now: string,
  successor: { id: string; sealed: string | null },
): Promise<boolean> {
  const rows = await db
    .updateTable("refresh_tokens")
    .set({ used_at: now, rotated_by: "refresh", successor_id: successor.id, successor_sealed: successor.sealed })
    .where("id", "=", id)
    .where("used_at", "is", null)
    .where("revoked_at", "is", null)
    .returning("id")
    .execute();
  return rows.length === 1;
}

/** The parent's state for the grace, read inside the grace's transaction. */
export function findGraceParent(db: Kysely<Database>, id: string) {
  return db
    .selectFrom("refresh_tokens")
    .select(["used_at", "rotated_by", "successor_id", "successor_sealed"])
    .where("id", "=", id)
    .executeTakeFirst();
}

/**
 * Locks the successor for the rest of the transaction if it is still unused, unrevoked and
 * unexpired (a write that changes nothing: the row lock is the point, taken after the session's
 * as a rotation takes them); returns its hash, or undefined.
 */
export async function claimUnusedSuccessor(db: Kysely<Database>, id: string, sessionId: string, now: string): Promise<string | undefined> {
  const row = await db
    .updateTable("refresh_tokens")
    .set({ used_at: null })
    .where("id", "=", id)
    .where("session_id", "=", sessionId)
    .where("used_at", "is", null)
    .where("revoked_at", "is", null)
    .where("expires_at", ">", now)
    .returning("token_hash")
    .executeTakeFirst();
  return row?.token_hash;
}

/**
 * Touches a live session (locking its row, so revocation of the session waits for this
 * transaction or went first) and returns its version beside its user's version and disabled state.
 */
export async function lockLiveSession(db: Kysely<Database>, userId: string, sessionId: string, now: string) {
  const touched = await db
    .updateTable("sessions")
    .set({ last_used_at: now })
    .where("id", "=", sessionId)
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null)
    .returning(["token_version", "amr"])
    .executeTakeFirst();
  if (touched === undefined) return undefined;
  const user = await db.selectFrom("users").select(["token_version", "disabled_at"]).where("id", "=", userId).executeTakeFirst();
  return user && { sessionVersion: touched.token_version, amr: touched.amr, userVersion: user.token_version, disabledAt: user.disabled_at };
}

/** Erases the sealed successor of the token this one replaced (it is being used: its grace is over). */
export async function eraseSealOfParent(db: Kysely<Database>, successorId: string): Promise<void> {
  await db
    .updateTable("refresh_tokens")
    .set({ successor_sealed: null })
    .where("successor_id", "=", successorId)
    .where("successor_sealed", "is not", null)
    .execute();
}

/** Erases the sealed successors of revoked sessions: these sessions, or every session of the user. */
export async function eraseSealsOfSessions(db: Kysely<Database>, userId: string, sessionIds: readonly string[] | undefined): Promise<void> {
  if (sessionIds !== undefined && sessionIds.length === 0) return;
  let query = db.updateTable("refresh_tokens").set({ successor_sealed: null }).where("successor_sealed", "is not", null);
  query =
    sessionIds === undefined
      ? query.where("session_id", "in", db.selectFrom("sessions").select("id").where("user_id", "=", userId))
      : query.where("session_id", "in", [...sessionIds]);
  await query.execute();
}

/** Erases the sealed successors whose window ended (used before `before`); returns how many. */
export async function eraseEndedSeals(db: Kysely<Database>, before: string): Promise<number> {
  const rows = await db
    .updateTable("refresh_tokens")
    .set({ successor_sealed: null })
    .where("successor_sealed", "is not", null)
    .where("used_at", "<", before)
    .returning("id")
    .execute();
  return rows.length;
}
