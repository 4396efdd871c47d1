import type { Kysely } from "kysely";

// A refresh token can be revoked on its own (its session re-keyed by a password change), so
// presenting it answers token_revoked rather than token_invalid.
export const refreshTokenRevokedAt = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable("refresh_tokens").addColumn("revoked_at", "varchar(32)").execute();
  },
};
