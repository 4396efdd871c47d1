import { sql, type Kysely } from "kysely";

/**
 * Administration (docs/api.md section 10): a `role` per user (`user` or `admin`) and when the
 * account was disabled (null: enabled), and an index for the admin listing (newest first, ties by
 * id). Existing accounts become enabled users; `tokenver users promote` makes the first admin.
 */
export const admin = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable("users")
      .addColumn("role", "varchar(16)", (c) =>
        c
          .notNull()
          .defaultTo("user")
          .check(sql`role IN ('user', 'admin')`),
      )
      .execute();
    await db.schema.alterTable("users").addColumn("disabled_at", "varchar(32)").execute();
    await db.schema.createIndex("users_created_at_id").on("users").columns(["created_at", "id"]).execute();
    // The last-admin rule counts the enabled admins on every demotion, disabling and deletion.
    await db.schema.createIndex("users_role").on("users").column("role").execute();
  },
};
