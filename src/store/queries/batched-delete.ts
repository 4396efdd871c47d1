import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

const BATCH = 1000;

/**
 * Deletes the rows of `table` whose `expires_at` is before `before`, 1,000 at a time, yielding to
 * the event loop between batches: SQLite runs on the main thread, and one DELETE of a million
 * rows would stall every request for seconds.
 */
export async function deleteExpired(db: Kysely<Database>, table: "sessions" | "refresh_tokens", before: string): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await db
      .deleteFrom(table)
      .where("id", "in", (eb) => eb.selectFrom(table).select("id").where("expires_at", "<", before).limit(BATCH))
      .executeTakeFirst();
    const deleted = Number(result.numDeletedRows);
    total += deleted;
    if (deleted < BATCH) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
