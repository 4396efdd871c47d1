import { sql, type Kysely } from "kysely";

/**
 * Account recovery and email (docs/api.md section 8; docs/recovery.md):
 * - `users.email_verified_at`: when the address was last proven (null: unverified). Accounts that
 *   existed before this migration count as verified (set to their `created_at`): they signed in
 *   with that address before verification existed, and turning `TOKENVER_REQUIRE_VERIFIED_EMAIL`
 *   on must neither lock them out nor have them pruned as unverified.
 * - `tokenver_links`: the tokens of mailed links (reset, verify, email change, its cancel), each
 *   stored only as the SHA-256 of the token, bound to one user, one purpose, the address it was
 *   sent to and the user's token version; consumed by one conditional DELETE.
 */
export const recovery = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable("users").addColumn("email_verified_at", "varchar(32)").execute();
    await sql`UPDATE ${sql.table("users")} SET email_verified_at = created_at`.execute(db);
    await db.schema
      .createTable("tokenver_links")
      .addColumn("token_hash", "varchar(64)", (c) => c.primaryKey())
      .addColumn("user_id", "varchar(64)", (c) => c.notNull().references("users.id").onDelete("cascade"))
      .addColumn("purpose", "varchar(16)", (c) => c.notNull())
      // The account's address when the link was made; for an email change, the new one is `new_email`.
      .addColumn("email", "varchar(320)", (c) => c.notNull())
      .addColumn("new_email", "varchar(320)")
      .addColumn("token_version", "integer", (c) => c.notNull())
      .addColumn("created_at", "varchar(32)", (c) => c.notNull())
      .addColumn("expires_at", "varchar(32)", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("tokenver_links_user").on("tokenver_links").columns(["user_id", "purpose"]).execute();
    await db.schema.createIndex("tokenver_links_expires").on("tokenver_links").column("expires_at").execute();
    // Pruning unverified accounts (TOKENVER_UNVERIFIED_TTL) looks them up by age.
    await db.schema.createIndex("users_unverified").on("users").columns(["email_verified_at", "created_at"]).execute();
  },
};
