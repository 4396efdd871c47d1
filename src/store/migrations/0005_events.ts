import type { Kysely } from "kysely";

/**
 * Security events (docs/api.md section 10) and the webhook outbox that carries them out.
 * No foreign keys to `users`: an account's events outlive it (`account.deleted` is one of them),
 * and they go only with the retention (`eventRetention`).
 */
export const events = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("tokenver_events")
      .addColumn("id", "varchar(64)", (c) => c.primaryKey())
      .addColumn("type", "varchar(64)", (c) => c.notNull())
      .addColumn("user_id", "varchar(64)")
      .addColumn("session_id", "varchar(64)")
      .addColumn("actor", "varchar(64)", (c) => c.notNull())
      .addColumn("ip", "varchar(64)")
      .addColumn("user_agent", "varchar(512)")
      .addColumn("at", "varchar(32)", (c) => c.notNull())
      .addColumn("detail", "text", (c) => c.notNull().defaultTo("{}"))
      .execute();
    // GET /events and the admin's user filter; the type filter; the unfiltered list and pruning.
    await db.schema.createIndex("tokenver_events_user_at").on("tokenver_events").columns(["user_id", "at", "id"]).execute();
    await db.schema.createIndex("tokenver_events_type_at").on("tokenver_events").columns(["type", "at", "id"]).execute();
    await db.schema.createIndex("tokenver_events_at").on("tokenver_events").columns(["at", "id"]).execute();

    // One row per event and endpoint until it is delivered (then deleted) or dead-lettered.
    await db.schema
      .createTable("tokenver_webhook_outbox")
      .addColumn("id", "varchar(64)", (c) => c.primaryKey())
      .addColumn("event_id", "varchar(64)", (c) => c.notNull())
      .addColumn("url", "varchar(2048)", (c) => c.notNull())
      .addColumn("payload", "text", (c) => c.notNull())
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("next_attempt_at", "varchar(32)", (c) => c.notNull())
      .addColumn("last_error", "varchar(256)")
      .addColumn("created_at", "varchar(32)", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("tokenver_webhook_outbox_due").on("tokenver_webhook_outbox").columns(["next_attempt_at", "id"]).execute();

    await db.schema
      .createTable("tokenver_webhook_dead_letters")
      .addColumn("id", "varchar(64)", (c) => c.primaryKey())
      .addColumn("event_id", "varchar(64)", (c) => c.notNull())
      .addColumn("url", "varchar(2048)", (c) => c.notNull())
      .addColumn("payload", "text", (c) => c.notNull())
      .addColumn("attempts", "integer", (c) => c.notNull())
      .addColumn("last_error", "varchar(256)")
      .addColumn("created_at", "varchar(32)", (c) => c.notNull())
      .addColumn("failed_at", "varchar(32)", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("tokenver_webhook_dead_letters_failed_at")
      .on("tokenver_webhook_dead_letters")
      .column("failed_at")
      .execute();

    // Endpoints that answered 410 Gone: nothing more is sent to them until an operator deletes the row.
    await db.schema
      .createTable("tokenver_webhook_endpoints")
      .addColumn("url", "varchar(2048)", (c) => c.primaryKey())
      .addColumn("disabled_at", "varchar(32)", (c) => c.notNull())
      .addColumn("reason", "varchar(256)", (c) => c.notNull())
      .execute();

    // The delivery lease: one row per job, taken and renewed by one conditional write.
    await db.schema
      .createTable("tokenver_leases")
      .addColumn("name", "varchar(64)", (c) => c.primaryKey())
      .addColumn("holder", "varchar(64)", (c) => c.notNull())
      .addColumn("expires_at", "varchar(32)", (c) => c.notNull())
      .execute();
  },
};
