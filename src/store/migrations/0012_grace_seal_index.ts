import { sql, type Kysely } from "kysely";

/**
 * The refresh grace's sealed successors are erased when their window ends (docs/api.md section 6),
 * by a sweep every window on every node (core/browser/seal-sweep.ts): a partial index keeps that
 * sweep to the few rows still sealed, however large `refresh_tokens` grows.
 */
export const graceSealIndex = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createIndex("refresh_tokens_sealed_used_at")
      .on("refresh_tokens")
      .column("used_at")
      .where(sql.ref("successor_sealed"), "is not", null)
      .execute();
  },
};
