import type { Insertable, Kysely } from "kysely";
import type { Database, EventsTable } from "../schema.js";
import { deleteOlderThan } from "./batched-delete.js";

export type EventRow = Insertable<EventsTable>;

/** Writes a batch of events in one statement. */
export async function insertEvents(db: Kysely<Database>, rows: readonly EventRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insertInto("tokenver_events").values(rows.slice()).execute();
}

/** Where a page of events starts: after this event, in (at, id) descending order. */
export interface EventKey {
  at: string;
  id: string;
}

export interface EventFilter {
  userId?: string;
  type?: string;
  /** The last event of the previous page. */
  before?: EventKey;
  limit: number;
}

/** Newest first, ties by id (keyset pagination: an event written meanwhile sorts before the page, never into it). */
export function listEvents(db: Kysely<Database>, filter: EventFilter) {
  let q = db.selectFrom("tokenver_events").selectAll();
  if (filter.userId !== undefined) q = q.where("user_id", "=", filter.userId);
  if (filter.type !== undefined) q = q.where("type", "=", filter.type);
  const before = filter.before;
  if (before !== undefined) {
    q = q.where((eb) => eb.or([eb("at", "<", before.at), eb.and([eb("at", "=", before.at), eb("id", "<", before.id)])]));
  }
  return q.orderBy("at", "desc").orderBy("id", "desc").limit(filter.limit).execute();
}

/** The users' current token versions (for webhook payloads); a deleted user is absent. */
export async function tokenVersionsOf(db: Kysely<Database>, userIds: readonly string[]): Promise<Map<string, number>> {
  if (userIds.length === 0) return new Map();
  const rows = await db.selectFrom("users").select(["id", "token_version"]).where("id", "in", userIds.slice()).execute();
  return new Map(rows.map((r) => [r.id, r.token_version]));
}

/** Deletes events recorded before `before` (the retention), in batches. */
export function pruneEvents(db: Kysely<Database>, before: string): Promise<number> {
  return deleteOlderThan(db, "tokenver_events", "at", before);
}
