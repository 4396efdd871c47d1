import { randomUUID } from "node:crypto";
import type { Transaction } from "kysely";
import { tokenVersionsOf, type EventRow } from "../../store/queries/events.js";
import { insertOutbox } from "../../store/queries/webhooks.js";
import type { Database } from "../../store/schema.js";
import { isoAt, type Clock } from "../clock.js";
import { webhookPayload } from "./payload.js";

/**
 * The outbox rows of a batch of events, one per event and endpoint, written in the batch's own
 * transaction: an event is in the outbox exactly when it is in the events table.
 */
export function outboxWriter(urls: readonly string[], clock: Clock) {
  return async (trx: Transaction<Database>, rows: readonly EventRow[]): Promise<void> => {
    const userIds = [...new Set(rows.map((r) => r.user_id).filter((id): id is string => typeof id === "string"))];
    const versions = await tokenVersionsOf(trx, userIds);
    const now = isoAt(clock());
    await insertOutbox(
      trx,
      rows.flatMap((row) => {
        const payload = webhookPayload(row, row.user_id ? (versions.get(row.user_id) ?? null) : null);
        return urls.map((url) => ({
          id: randomUUID(),
          event_id: row.id,
          url,
          payload,
          attempts: 0,
          next_attempt_at: now,
          last_error: null,
          created_at: now,
        }));
      }),
    );
  };
}
