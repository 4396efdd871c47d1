import { type Kysely, type Selectable } from "kysely";
import type { Database, MfaChallengesTable, TotpTable } from "../schema.js";

/**
 * The second factor's rows (docs/api.md section 9; core/mfa/). Every single-use thing is consumed
 * by one conditional UPDATE whose row count decides: a time step (`last_step`), a recovery code,
 * an `mfa_token`. No read-modify-write anywhere.
 */

export type TotpRow = Selectable<TotpTable>;
export type ChallengeRow = Selectable<MfaChallengesTable>;

export function findTotp(db: Kysely<Database>, userId: string): Promise<TotpRow | undefined> {
  return db.selectFrom("tokenver_totp").selectAll().where("user_id", "=", userId).executeTakeFirst();
}

/**
 * Starts (or restarts) an enrolment: the pending secret replaces an earlier pending one, never an
 * enabled one (one statement: false when the factor is on).
 */
export async function upsertPendingTotp(db: Kysely<Database>, userId: string, sealedSecret: string, now: string): Promise<boolean> {
  const rows = await db
    .insertInto("tokenver_totp")
    .values({ user_id: userId, secret: sealedSecret, enabled_at: null, last_step: null, created_at: now })
    .onConflict((oc) =>
      oc.column("user_id").doUpdateSet({ secret: sealedSecret, created_at: now }).where("tokenver_totp.enabled_at", "is", null),
    )
    .returning("user_id")
    .execute();
  return rows.length === 1;
}

/**
 * Accepts a code for time step `step`: only if it is later than the last accepted step (so a code
 * is never accepted twice, on any node), and only for the secret the code was checked against
 * (`sealedSecret`: an enrolment restarted meanwhile has another). One conditional write.
 */
export async function consumeStep(
  db: Kysely<Database>,
  userId: string,
  sealedSecret: string,
  step: number,
  state: "pending" | "enabled",
): Promise<boolean> {
  const rows = await db
    .updateTable("tokenver_totp")
    .set({ last_step: step })
    .where("user_id", "=", userId)
    .where("secret", "=", sealedSecret)
    .where("enabled_at", state === "enabled" ? "is not" : "is", null)
    .where((eb) => eb.or([eb("last_step", "is", null), eb("last_step", "<", step)]))
    .returning("user_id")
    .execute();
  return rows.length === 1;
}

/** Turns a pending enrolment on (false when it was replaced or is already on). */
export async function enableTotp(db: Kysely<Database>, userId: string, sealedSecret: string, now: string): Promise<boolean> {
  const rows = await db
    .updateTable("tokenver_totp")
    .set({ enabled_at: now })
    .where("user_id", "=", userId)
    .where("secret", "=", sealedSecret)
    .where("enabled_at", "is", null)
    .returning("user_id")
    .execute();
  if (rows.length !== 1) return false;
  await db.updateTable("users").set({ mfa_enabled_at: now, updated_at: now }).where("id", "=", userId).execute();
  return true;
}

/** Turns the factor off: the secret, the recovery codes and the pending sign-ins go (false when it was not on). */
export async function disableTotp(db: Kysely<Database>, userId: string, now: string): Promise<boolean> {
  const rows = await db
    .deleteFrom("tokenver_totp")
    .where("user_id", "=", userId)
    .where("enabled_at", "is not", null)
    .returning("user_id")
    .execute();
  if (rows.length !== 1) return false;
  await db.deleteFrom("tokenver_recovery_codes").where("user_id", "=", userId).execute();
  await db.deleteFrom("tokenver_mfa_challenges").where("user_id", "=", userId).execute();
  await db.updateTable("users").set({ mfa_enabled_at: null, recovery_codes_left: 0, updated_at: now }).where("id", "=", userId).execute();
  return true;
}

/** Replaces the user's recovery codes with these hashes (the old set dies). */
export async function replaceRecoveryCodes(
  db: Kysely<Database>,
  userId: string,
  codes: Array<{ id: string; hash: string }>,
  now: string,
): Promise<void> {
  await db.deleteFrom("tokenver_recovery_codes").where("user_id", "=", userId).execute();
  await db
    .insertInto("tokenver_recovery_codes")
    .values(codes.map((c) => ({ id: c.id, user_id: userId, code_hash: c.hash, used_at: null, created_at: now })))
    .execute();
  await db.updateTable("users").set({ recovery_codes_left: codes.length, updated_at: now }).where("id", "=", userId).execute();
}

/** Uses one recovery code of the user, if it is theirs and unused: one conditional write (and the count follows). */
export async function consumeRecoveryCode(db: Kysely<Database>, userId: string, hash: string, now: string): Promise<boolean> {
  const rows = await db
    .updateTable("tokenver_recovery_codes")
    .set({ used_at: now })
    .where("user_id", "=", userId)
    .where("code_hash", "=", hash)
    .where("used_at", "is", null)
    .returning("id")
    .execute();
  if (rows.length !== 1) return false;
  await db
    .updateTable("users")
    .set((eb) => ({ recovery_codes_left: eb("recovery_codes_left", "-", 1) }))
    .where("id", "=", userId)
    .where("recovery_codes_left", ">", 0)
    .execute();
  return true;
}

export interface NewChallenge {
  id: string;
  token_hash: string;
  user_id: string;
  token_version: number;
  mode: string;
  now: string;
  expires_at: string;
}

export async function insertChallenge(db: Kysely<Database>, c: NewChallenge): Promise<void> {
  await db
    .insertInto("tokenver_mfa_challenges")
    .values({
      id: c.id,
      token_hash: c.token_hash,
      user_id: c.user_id,
      token_version: c.token_version,
      mode: c.mode,
      used_at: null,
      expires_at: c.expires_at,
      created_at: c.now,
    })
    .execute();
}

export function findChallenge(db: Kysely<Database>, id: string): Promise<ChallengeRow | undefined> {
  return db.selectFrom("tokenver_mfa_challenges").selectAll().where("id", "=", id).executeTakeFirst();
}

/**
 * Uses the challenge for a sign-in: only if unused, unexpired and still at the user's token
 * version, by an attempt that holds a reservation (`reserveChallengeAttempt`): its own attempt is
 * in `failures`, so at most `maxFailures`. One conditional write: of two requests with one
 * `mfa_token`, one wins.
 */
export async function consumeChallenge(db: Kysely<Database>, id: string, now: string, maxFailures: number): Promise<boolean> {
  const rows = await db
    .updateTable("tokenver_mfa_challenges")
    .set({ used_at: now })
    .where("id", "=", id)
    .where("used_at", "is", null)
    .where("expires_at", ">", now)
    .where("failures", "<=", maxFailures)
    .where(({ eb, selectFrom }) =>
      eb(
        "token_version",
        "=",
        selectFrom("users").select("users.token_version").whereRef("users.id", "=", "tokenver_mfa_challenges.user_id"),
      ),
    )
    .returning("id")
    .execute();
  return rows.length === 1;
}

/**
 * Reserves one of the challenge's `maxFailures` attempts before its code is checked: one
 * conditional write, only while the challenge is unused, unexpired and has attempts left, so
 * parallel requests can never check more codes than that (a count read first and raised after a
 * miss lets them all through). The attempt stays counted whatever its outcome; a right code then
 * consumes the challenge (`consumeChallenge`). Resolves to the attempt's number (1 is the first),
 * or undefined when none is left.
 */
export async function reserveChallengeAttempt(
  db: Kysely<Database>,
  id: string,
  now: string,
  maxFailures: number,
): Promise<number | undefined> {
  const row = await db
    .updateTable("tokenver_mfa_challenges")
    .set((eb) => ({ failures: eb("failures", "+", 1) }))
    .where("id", "=", id)
    .where("used_at", "is", null)
    .where("expires_at", ">", now)
    .where("failures", "<", maxFailures)
    .returning("failures")
    .executeTakeFirst();
  return row === undefined ? undefined : Number(row.failures);
}

/** Drops the user's pending sign-ins (the factor went off, or they are all dead anyway). */
export async function deleteUserChallenges(db: Kysely<Database>, userId: string): Promise<void> {
  await db.deleteFrom("tokenver_mfa_challenges").where("user_id", "=", userId).execute();
}

/** Expired challenges go with the periodic prune. */
export async function pruneChallenges(db: Kysely<Database>, now: string): Promise<number> {
  const result = await db.deleteFrom("tokenver_mfa_challenges").where("expires_at", "<=", now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
