import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

const BATCH = 1000;

/**
 * Deletes the rows of `table` whose `expires_at` is before `before`, 1,000 at a time, yielding to
 * the event loop between batches: SQLite runs on the main thread, and one DELETE of a million
 * rows would stall every request for seconds.
 */
export function deleteExpired(db: Kysely<Database>, table: "sessions" | "refresh_tokens", before: string): Promise<number> {
  return deleteOlderThan(db, table, "expires_at", before);
}

/** The tables pruned by age, and the column each one's age is in. */
type PrunedColumn = {
  sessions: "expires_at";
  refresh_tokens: "expires_at";
  tokenver_events: "at";
  tokenver_webhook_dead_letters: "failed_at";
};

/** Deletes the rows of `table` whose `column` is before `before`, in batches (see deleteExpired). */
export async function deleteOlderThan<T extends keyof PrunedColumn>(
  db: Kysely<Database>,
  table: T,
  column: PrunedColumn[T],
  before: string,
): Promise<number> {
  // One generic table at a time: Kysely cannot type a column of a table chosen at run time.
  const loose = db as unknown as Kysely<{ pruned: { id: string; age: string } }>;
  const from = table as unknown as "pruned";
  const age = column as unknown as "age";
  let total = 0;
  for (;;) {
    const result = await loose
      .deleteFrom(from)
      .where("id", "in", (eb) => eb.selectFrom(from).select("id").where(age, "<", before).limit(BATCH))
      .executeTakeFirst();
    const deleted = Number(result.numDeletedRows);
    total += deleted;
    if (deleted < BATCH) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
