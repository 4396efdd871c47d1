import type { Insertable, Kysely, Selectable } from "kysely";
import type { Database, WebhookOutboxTable } from "../schema.js";
import { deleteOlderThan } from "./batched-delete.js";

export type OutboxRow = Selectable<WebhookOutboxTable>;

export async function insertOutbox(db: Kysely<Database>, rows: readonly Insertable<WebhookOutboxTable>[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insertInto("tokenver_webhook_outbox").values(rows.slice()).execute();
}

/** Deliveries due at `now`, oldest first. */
export function dueDeliveries(db: Kysely<Database>, now: string, limit: number): Promise<OutboxRow[]> {
  return db
    .selectFrom("tokenver_webhook_outbox")
    .selectAll()
    .where("next_attempt_at", "<=", now)
    .orderBy("next_attempt_at")
    .orderBy("id")
    .limit(limit)
    .execute();
}

/**
 * Counts an attempt before it is made, and schedules the next one: one conditional write (the row
 * as it was read), so a crash mid-attempt leaves a row that is retried after the backoff, never at
 * once in a loop, and two deliverers can never both claim one attempt. False: someone else did.
 */
export async function claimAttempt(db: Kysely<Database>, row: OutboxRow, nextAttemptAt: string): Promise<boolean> {
  const result = await db
    .updateTable("tokenver_webhook_outbox")
    .set({ attempts: row.attempts + 1, next_attempt_at: nextAttemptAt })
    .where("id", "=", row.id)
    .where("attempts", "=", row.attempts)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function deleteDelivery(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom("tokenver_webhook_outbox").where("id", "=", id).execute();
}

export async function recordFailure(db: Kysely<Database>, id: string, error: string): Promise<void> {
  await db
    .updateTable("tokenver_webhook_outbox")
    .set({ last_error: error.slice(0, 256) })
    .where("id", "=", id)
    .execute();
}

/** Moves deliveries to the dead-letter table (one transaction): all of `url`'s, or the one of `id`. */
export async function deadLetter(
  db: Kysely<Database>,
  which: { id: string } | { url: string },
  error: string,
  now: string,
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    let q = trx.selectFrom("tokenver_webhook_outbox").selectAll();
    q = "id" in which ? q.where("id", "=", which.id) : q.where("url", "=", which.url);
    const rows = await q.execute();
    if (rows.length === 0) return 0;
    await trx
      .insertInto("tokenver_webhook_dead_letters")
      .values(
        rows.map((r) => ({
          id: r.id,
          event_id: r.event_id,
          url: r.url,
          payload: r.payload,
          attempts: r.attempts,
          last_error: error.slice(0, 256),
          created_at: r.created_at,
          failed_at: now,
        })),
      )
      .execute();
    await trx
      .deleteFrom("tokenver_webhook_outbox")
      .where(
        "id",
        "in",
        rows.map((r) => r.id),
      )
      .execute();
    return rows.length;
  });
}

export async function disabledEndpoints(db: Kysely<Database>): Promise<Set<string>> {
  const rows = await db.selectFrom("tokenver_webhook_endpoints").select("url").execute();
  return new Set(rows.map((r) => r.url));
}

export async function disableEndpoint(db: Kysely<Database>, url: string, reason: string, now: string): Promise<void> {
  await db
    .insertInto("tokenver_webhook_endpoints")
    .values({ url, disabled_at: now, reason })
    .onConflict((oc) => oc.column("url").doNothing())
    .execute();
}

/**
 * A free lease's `expires_at`: the epoch, an instant every dialect stores (PostgreSQL's
 * timestamptz refuses the empty string earlier releases wrote; migration 0013 converts those).
 */
export const LEASE_RELEASED = "1970-01-01T00:00:00.000Z";

/**
 * Takes or renews the lease `name` for `holder` until `expiresAt`: granted when it is free, expired
 * or already this holder's. One conditional write decides, so of two nodes at most one holds it.
 */
export async function takeLease(db: Kysely<Database>, name: string, holder: string, now: string, expiresAt: string): Promise<boolean> {
  await db
    .insertInto("tokenver_leases")
    .values({ name, holder: "", expires_at: LEASE_RELEASED })
    .onConflict((oc) => oc.column("name").doNothing())
    .execute();
  const result = await db
    .updateTable("tokenver_leases")
    .set({ holder, expires_at: expiresAt })
    .where("name", "=", name)
    .where((eb) => eb.or([eb("holder", "=", holder), eb("expires_at", "<", now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function releaseLease(db: Kysely<Database>, name: string, holder: string): Promise<void> {
  await db
    .updateTable("tokenver_leases")
    .set({ holder: "", expires_at: LEASE_RELEASED })
    .where("name", "=", name)
    .where("holder", "=", holder)
    .execute();
}

/** Dead letters are kept as long as events are. */
export function pruneDeadLetters(db: Kysely<Database>, before: string): Promise<number> {
  return deleteOlderThan(db, "tokenver_webhook_dead_letters", "failed_at", before);
}
