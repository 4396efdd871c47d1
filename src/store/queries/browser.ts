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
