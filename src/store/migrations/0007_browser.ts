import type { Kysely } from "kysely";

/**
 * The browser (docs/api.md section 6):
 * - `sessions.csrf_epoch`: part of every CSRF token of the session; moved on by a password or
 *   second-factor change, so the tokens handed out before stop working.
 * - the refresh grace: a refresh token rotated by `POST /token/refresh` remembers which token
 *   replaced it (`successor_id`), how (`rotated_by`: only `refresh` allows the grace) and, for the
 *   grace window only, that successor sealed under a key derived from the presented token's own
 *   secret (`successor_sealed`, erased when the window ends, the successor is used or the session
 *   is revoked). Nothing here opens without the parent token itself.
 */
export const browser = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable("sessions")
      .addColumn("csrf_epoch", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable("refresh_tokens").addColumn("rotated_by", "varchar(16)").execute();
    await db.schema.alterTable("refresh_tokens").addColumn("successor_id", "varchar(64)").execute();
    await db.schema.alterTable("refresh_tokens").addColumn("successor_sealed", "text").execute();
  },
};
