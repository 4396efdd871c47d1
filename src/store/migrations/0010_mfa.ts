import type { Kysely } from "kysely";

/**
 * A second factor (docs/api.md section 9; docs/mfa.md):
 * - `users.mfa_enabled_at` and `users.recovery_codes_left`, read with the user row (GET /profile
 *   stays one read by primary key);
 * - `sessions.amr`: how the session was authenticated (RFC 8176 values, space-separated), copied
 *   into every access token of the session, refreshes included; existing sessions are `pwd`;
 * - `tokenver_totp`: one TOTP secret per user (sealed with AES-256-GCM), pending until confirmed,
 *   and the last accepted time step (replay protection, one conditional write);
 * - `tokenver_recovery_codes`: HMAC-SHA-256 of each code, consumed by one conditional write;
 * - `tokenver_mfa_challenges`: the `mfa_token`s of sign-ins waiting for their second factor,
 *   stored as a SHA-256 of their secret half, bound to the user, token version and mode.
 * Everything of a user goes with the user (foreign keys, on delete cascade).
 */
export const mfa = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable("users").addColumn("mfa_enabled_at", "varchar(32)").execute();
    await db.schema
      .alterTable("users")
      .addColumn("recovery_codes_left", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .alterTable("sessions")
      .addColumn("amr", "varchar(64)", (c) => c.notNull().defaultTo("pwd"))
      .execute();

    await db.schema
      .createTable("tokenver_totp")
      .addColumn("user_id", "varchar(64)", (c) => c.primaryKey().references("users.id").onDelete("cascade"))
      .addColumn("secret", "varchar(256)", (c) => c.notNull())
      .addColumn("enabled_at", "varchar(32)")
      .addColumn("last_step", "integer")
      .addColumn("created_at", "varchar(32)", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("tokenver_recovery_codes")
      .addColumn("id", "varchar(64)", (c) => c.primaryKey())
      .addColumn("user_id", "varchar(64)", (c) => c.notNull().references("users.id").onDelete("cascade"))
      .addColumn("code_hash", "varchar(64)", (c) => c.notNull())
      .addColumn("used_at", "varchar(32)")
      .addColumn("created_at", "varchar(32)", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("tokenver_recovery_codes_user").on("tokenver_recovery_codes").columns(["user_id", "code_hash"]).execute();

    await db.schema
      .createTable("tokenver_mfa_challenges")
      .addColumn("id", "varchar(64)", (c) => c.primaryKey())
      .addColumn("token_hash", "varchar(64)", (c) => c.notNull())
      .addColumn("user_id", "varchar(64)", (c) => c.notNull().references("users.id").onDelete("cascade"))
      .addColumn("token_version", "integer", (c) => c.notNull())
      .addColumn("mode", "varchar(16)", (c) => c.notNull())
      .addColumn("failures", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("used_at", "varchar(32)")
      .addColumn("expires_at", "varchar(32)", (c) => c.notNull())
      .addColumn("created_at", "varchar(32)", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("tokenver_mfa_challenges_user").on("tokenver_mfa_challenges").column("user_id").execute();
    await db.schema.createIndex("tokenver_mfa_challenges_expires").on("tokenver_mfa_challenges").column("expires_at").execute();
  },
};
