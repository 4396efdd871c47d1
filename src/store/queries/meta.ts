import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

/**
 * Returns the stored value for `key`, storing `candidate` first if there is none. Every node that
 * races here ends up with the same value (insert-if-absent, then read).
 */
export async function getOrInsertMeta(db: Kysely<Database>, key: string, candidate: string): Promise<{ value: string; inserted: boolean }> {
  const inserted = await db
    .insertInto("tokenver_meta")
    .values({ key, value: candidate })
    .onConflict((oc) => oc.column("key").doNothing())
    .returning("key")
    .execute();
  const row = await db.selectFrom("tokenver_meta").select("value").where("key", "=", key).executeTakeFirstOrThrow();
  return { value: row.value, inserted: inserted.length === 1 };
}
