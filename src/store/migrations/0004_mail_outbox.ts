import type { Kysely } from "kysely";

/**
 * The mail outbox (core/mail/): a mail is a row until a worker has handed it to the transport.
 * Requests only insert (in their own transaction, so a mail exists exactly when the change that
 * caused it committed); a worker on any node claims a due row with a conditional update (a lease),
 * sends it, and deletes it. `payload` is sealed (AES-256-GCM under a key derived from the server
 * secret): it holds links, which are credentials until used.
 */
export const mailOutbox = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("mail_outbox")
      .addColumn("id", "varchar(64)", (c) => c.primaryKey())
      .addColumn("template", "varchar(64)", (c) => c.notNull())
      .addColumn("payload", "text", (c) => c.notNull())
      .addColumn("status", "varchar(16)", (c) => c.notNull().defaultTo("pending"))
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("next_attempt_at", "varchar(32)", (c) => c.notNull())
      .addColumn("lease_owner", "varchar(64)")
      .addColumn("lease_until", "varchar(32)")
      .addColumn("last_error", "varchar(128)")
      .addColumn("created_at", "varchar(32)", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("mail_outbox_due").on("mail_outbox").columns(["status", "next_attempt_at"]).execute();
  },
};
