import type { Kysely, Selectable } from "kysely";
import type { Database, LinkPurpose, LinksTable } from "../schema.js";

export type LinkRow = Selectable<LinksTable>;

export interface NewLink {
  token_hash: string;
  user_id: string;
  purpose: LinkPurpose;
  email: string;
  new_email?: string | null;
  token_version: number;
  now: string;
  expires_at: string;
}

/**
 * Stores a link and removes the user's earlier links of the same purposes (a newer link
 * supersedes the older): call it in the flow's transaction.
 */
export async function insertLink(db: Kysely<Database>, link: NewLink, supersedes: readonly LinkPurpose[] = [link.purpose]): Promise<void> {
  if (supersedes.length > 0) {
    await db
      .deleteFrom("tokenver_links")
      .where("user_id", "=", link.user_id)
      .where("purpose", "in", [...supersedes])
      .execute();
  }
  await db
    .insertInto("tokenver_links")
    .values({
      token_hash: link.token_hash,
      user_id: link.user_id,
      purpose: link.purpose,
      email: link.email,
      new_email: link.new_email ?? null,
      token_version: link.token_version,
      created_at: link.now,
      expires_at: link.expires_at,
    })
    .execute();
}

/** A live link of one of `purposes` by its token's hash (a read: `consumeLink` decides for good). */
export function findLink(
  db: Kysely<Database>,
  tokenHash: string,
  purposes: readonly LinkPurpose[],
  now: string,
): Promise<LinkRow | undefined> {
  return db
    .selectFrom("tokenver_links")
    .selectAll()
    .where("token_hash", "=", tokenHash)
    .where("purpose", "in", [...purposes])
    .where("expires_at", ">", now)
    .executeTakeFirst();
}

/**
 * Uses a link up: one conditional DELETE, so of any number of concurrent uses exactly one gets
 * the row (the others get undefined). Only a live link of one of `purposes`.
 */
export function consumeLink(
  db: Kysely<Database>,
  tokenHash: string,
  purposes: readonly LinkPurpose[],
  now: string,
): Promise<LinkRow | undefined> {
  return db
    .deleteFrom("tokenver_links")
    .where("token_hash", "=", tokenHash)
    .where("purpose", "in", [...purposes])
    .where("expires_at", ">", now)
    .returningAll()
    .executeTakeFirst();
}

/** Every outstanding link of the user (a version change or an address change kills them anyway). */
export async function deleteUserLinks(db: Kysely<Database>, userId: string): Promise<void> {
  await db.deleteFrom("tokenver_links").where("user_id", "=", userId).execute();
}

/** Expired links, 1,000 at a time (yielding between batches, as batched-delete.ts does); returns how many went. */
export async function pruneLinks(db: Kysely<Database>, before: string): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await db
      .deleteFrom("tokenver_links")
      .where("token_hash", "in", (eb) => eb.selectFrom("tokenver_links").select("token_hash").where("expires_at", "<", before).limit(1000))
      .executeTakeFirst();
    const deleted = Number(result.numDeletedRows);
    total += deleted;
    if (deleted < 1000) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Accounts never verified and created before `before` (pruned when verification is required). */
export async function unverifiedUsersBefore(db: Kysely<Database>, before: string, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom("users")
    .select("id")
    .where("email_verified_at", "is", null)
    .where("created_at", "<", before)
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}
