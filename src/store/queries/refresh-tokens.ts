import type { Kysely } from "kysely";
import type { Database } from "../schema.js";
import { deleteExpired } from "./batched-delete.js";

export async function insertRefreshToken(
  db: Kysely<Database>,
  t: { id: string; session_id: string; token_hash: string; now: string; expires_at: string },
): Promise<void> {
  await db
    .insertInto("refresh_tokens")
    .values({
      id: t.id,
      session_id: t.session_id,
      token_hash: t.token_hash,
      created_at: t.now,
      expires_at: t.expires_at,
      used_at: null,
      revoked_at: null,
    })
    .execute();
}

/** A refresh token with the state of its session and user, read in one statement (one snapshot). */
export function findRefreshToken(db: Kysely<Database>, id: string) {
  return db
    .selectFrom("refresh_tokens as r")
    .innerJoin("sessions as s", "s.id", "r.session_id")
    .innerJoin("users as u", "u.id", "s.user_id")
    .select([
      "r.id",
      "r.token_hash",
      "r.expires_at",
      "r.used_at",
      "r.revoked_at as token_revoked_at",
      "s.id as session_id",
      "s.user_id",
      "s.revoked_at",
      "s.token_version as session_version",
      "s.amr as session_amr",
      "u.token_version as user_version",
      "u.disabled_at as user_disabled_at",
    ])
    .where("r.id", "=", id)
    .executeTakeFirst();
}

/** Marks the token used if and only if it was unused: the single atomic step of rotation. */
export async function consumeRefreshToken(db: Kysely<Database>, id: string, now: string): Promise<boolean> {
  const rows = await db
    .updateTable("refresh_tokens")
    .set({ used_at: now })
    .where("id", "=", id)
    .where("used_at", "is", null)
    .where("revoked_at", "is", null)
    .returning("id")
    .execute();
  return rows.length === 1;
}

/** Revokes every refresh token of the session that is still usable (the session itself lives on). */
export async function revokeSessionRefreshTokens(db: Kysely<Database>, sessionId: string, now: string): Promise<void> {
  await db
    .updateTable("refresh_tokens")
    .set({ revoked_at: now })
    .where("session_id", "=", sessionId)
    .where("used_at", "is", null)
    .where("revoked_at", "is", null)
    .execute();
}

/**
 * Deletes refresh tokens that expired before `before`. Used tokens are kept until they expire:
 * they are what reuse detection recognises.
 */
export function pruneRefreshTokens(db: Kysely<Database>, before: string): Promise<number> {
  return deleteExpired(db, "refresh_tokens", before);
}
