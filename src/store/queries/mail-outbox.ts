import type { Kysely, Selectable } from "kysely";
import type { Database, MailOutboxTable } from "../schema.js";

export type OutboxRow = Selectable<MailOutboxTable>;

export interface NewOutboxMail {
  id: string;
  template: string;
  payload: string;
  now: string;
}

export async function insertOutboxMail(db: Kysely<Database>, mail: NewOutboxMail): Promise<void> {
  await db
    .insertInto("mail_outbox")
    .values({ id: mail.id, template: mail.template, payload: mail.payload, next_attempt_at: mail.now, created_at: mail.now })
    .execute();
}

/** Pending mails whose time has come and that no live lease holds, oldest first. */
export function selectDueMail(db: Kysely<Database>, now: string, limit: number): Promise<OutboxRow[]> {
  return db
    .selectFrom("mail_outbox")
    .selectAll()
    .where("status", "=", "pending")
    .where("next_attempt_at", "<=", now)
    .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<=", now)]))
    .orderBy("next_attempt_at")
    .limit(limit)
    .execute();
}

/**
 * Takes the lease on one mail for `owner` until `leaseUntil`, counting the attempt: one
 * conditional UPDATE, so of several nodes that saw the row due, exactly one gets it. A lease that
 * ran out (its node died mid-send) can be taken again: delivery is at least once.
 */
export async function claimMail(db: Kysely<Database>, id: string, owner: string, now: string, leaseUntil: string): Promise<boolean> {
  const result = await db
    .updateTable("mail_outbox")
    .set((eb) => ({ lease_owner: owner, lease_until: leaseUntil, attempts: eb("attempts", "+", 1) }))
    .where("id", "=", id)
    .where("status", "=", "pending")
    .where("next_attempt_at", "<=", now)
    .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<=", now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The mail went out: its row goes (only while this node still holds it). */
export async function deleteSentMail(db: Kysely<Database>, id: string, owner: string): Promise<void> {
  await db.deleteFrom("mail_outbox").where("id", "=", id).where("lease_owner", "=", owner).execute();
}

/** The attempt failed: the mail waits until `nextAttemptAt`, or is given up (its payload erased). */
export async function recordMailFailure(
  db: Kysely<Database>,
  id: string,
  owner: string,
  failure: { error: string; nextAttemptAt: string; giveUp: boolean },
): Promise<void> {
  await db
    .updateTable("mail_outbox")
    .set({
      lease_owner: null,
      lease_until: null,
      last_error: failure.error.slice(0, 128),
      next_attempt_at: failure.nextAttemptAt,
      ...(failure.giveUp ? { status: "failed", payload: "" } : {}),
    })
    .where("id", "=", id)
    .where("lease_owner", "=", owner)
    .execute();
}

/** Given-up mails older than `before` (kept a while for the operator to see). */
export async function pruneFailedMail(db: Kysely<Database>, before: string): Promise<number> {
  const result = await db.deleteFrom("mail_outbox").where("status", "=", "failed").where("created_at", "<", before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
