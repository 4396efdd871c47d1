import type { Kysely } from "kysely";

/** users, sessions, refresh_tokens and tokenver_meta. */
export const initial = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("users")
      .addColumn("id", "varchar(64)", (c) => c.primaryKey())
      .addColumn("email", "varchar(320)", (c) => c.notNull().unique())
      .addColumn("username", "varchar(256)")
      .addColumn("password_hash", "varchar(256)", (c) => c.notNull())
      .addColumn("token_version", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("profile", "text", (c) => c.notNull().defaultTo("{}"))
      .addColumn("created_at", "varchar(32)", (c) => c.notNull())
      .addColumn("updated_at", "varchar(32)", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("sessions")
      .addColumn("id", "varchar(64)", (c) => c.primaryKey())
      .addColumn("user_id", "varchar(64)", (c) => c.notNull().references("users.id").onDelete("cascade"))
      .addColumn("token_version", "integer", (c) => c.notNull())
      .addColumn("created_at", "varchar(32)", (c) => c.notNull())
      .addColumn("last_used_at", "varchar(32)", (c) => c.notNull())
      .addColumn("expires_at", "varchar(32)", (c) => c.notNull())
      .addColumn("revoked_at", "varchar(32)")
      .addColumn("user_agent", "varchar(512)")
      .addColumn("ip", "varchar(64)")
      .execute();
    await db.schema.createIndex("sessions_user_id").on("sessions").column("user_id").execute();
    await db.schema.createIndex("sessions_expires_at").on("sessions").column("expires_at").execute();

    await db.schema
      .createTable("refresh_tokens")
      .addColumn("id", "varchar(64)", (c) => c.primaryKey())
      .addColumn("session_id", "varchar(64)", (c) => c.notNull().references("sessions.id").onDelete("cascade"))
      .addColumn("token_hash", "varchar(128)", (c) => c.notNull())
      .addColumn("created_at", "varchar(32)", (c) => c.notNull())
      .addColumn("expires_at", "varchar(32)", (c) => c.notNull())
      .addColumn("used_at", "varchar(32)")
      .execute();
    await db.schema.createIndex("refresh_tokens_session_id").on("refresh_tokens").column("session_id").execute();
    await db.schema.createIndex("refresh_tokens_expires_at").on("refresh_tokens").column("expires_at").execute();

    await db.schema
      .createTable("tokenver_meta")
      .addColumn("key", "varchar(128)", (c) => c.primaryKey())
      .addColumn("value", "text", (c) => c.notNull())
      .execute();
  },
};
