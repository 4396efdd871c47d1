import { randomBytes } from "node:crypto";
import { sql, type Kysely, type Transaction } from "kysely";
import type { Database, SigningKeysTable } from "../schema.js";

export type SigningKeyRow = SigningKeysTable;

/** The meta row whose value changes with every change of the keys: nodes poll it, writers lock it. */
const VERSION_KEY = "signing_keys_version";

/** Every stored key but revoked ones (a revoked row is deleted too; the condition is the second lock). */
function keyRowsQuery(db: Kysely<Database> | Transaction<Database>) {
  return db
    .selectFrom("tokenver_signing_keys")
    .selectAll()
    .where("kid", "not in", (eb) => eb.selectFrom("tokenver_revoked_keys").select("kid"))
    .orderBy("activate_at")
    .orderBy("kid");
}

/** Every stored key but revoked ones. */
export function listKeyRows(db: Kysely<Database> | Transaction<Database>): Promise<SigningKeyRow[]> {
  return keyRowsQuery(db).execute();
}

/**
 * The same query as SQL text, for a SQLite prepared statement: compiled through `db`, so with the
 * tables where the store's layout puts them (store/table-layout.ts).
 */
export function keyRowsSql(db: Kysely<Database>): string {
  return keyRowsQuery(db).compile().sql;
}

/**
 * PostgreSQL's clock, milliseconds since the epoch: `clock_timestamp()`, the time of this
 * statement (`now()` would be the transaction's start, before the keys' lock was granted), named
 * in `pg_catalog` so that no function of that name earlier on a search_path stands in for it. It
 * comes back as every timestamptz does (store/pg-types.ts), to the millisecond.
 */
export async function databaseNow(db: Kysely<Database> | Transaction<Database>): Promise<number> {
  const { rows } = await sql<{ now: unknown }>`select pg_catalog.clock_timestamp() as now`.execute(db);
  const now = rows[0]?.now;
  const ms = typeof now === "string" ? Date.parse(now) : Number.NaN;
  if (!Number.isFinite(ms)) throw new Error("tokenver: the database's clock could not be read");
  return ms;
}

/** When the key was revoked (`tokenver keys revoke`), or undefined. */
export async function revokedAt(db: Kysely<Database> | Transaction<Database>, kid: string): Promise<string | undefined> {
  const row = await db.selectFrom("tokenver_revoked_keys").select("revoked_at").where("kid", "=", kid).executeTakeFirst();
  return row?.revoked_at;
}

/** Remembers a revoked kid, so that nothing adds the key again. */
export async function recordRevokedKey(trx: Transaction<Database>, kid: string, at: string): Promise<void> {
  await trx
    .insertInto("tokenver_revoked_keys")
    .values({ kid, revoked_at: at })
    .onConflict((oc) => oc.column("kid").doNothing())
    .execute();
}

/** What nodes poll: changes with every change of the keys. */
export async function keysVersion(db: Kysely<Database>): Promise<string | undefined> {
  const row = await db.selectFrom("tokenver_meta").select("value").where("key", "=", VERSION_KEY).executeTakeFirst();
  return row?.value;
}

/**
 * Runs `change` in a transaction that holds the keys' lock: its first statement writes the
 * version row (a row lock on PostgreSQL until commit; SQLite's write lock), so two nodes or
 * commands that change keys at once run one after the other, and every node sees a new version.
 */
export function withKeysLock<T>(db: Kysely<Database>, change: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    const version = randomBytes(12).toString("base64url");
    await trx
      .insertInto("tokenver_meta")
      .values({ key: VERSION_KEY, value: version })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value: version }))
      .execute();
    return change(trx);
  });
}

export async function insertKeyRow(trx: Transaction<Database>, row: SigningKeyRow): Promise<void> {
  await trx
    .insertInto("tokenver_signing_keys")
    .values(row)
    .onConflict((oc) => oc.column("kid").doNothing())
    .execute();
}

/** Every key without a retirement date stops verifying at `retireAfter` (a later key signs). */
export async function retireOpenKeys(trx: Transaction<Database>, retireAfter: string, except: string): Promise<void> {
  await trx
    .updateTable("tokenver_signing_keys")
    .set({ retire_after: retireAfter })
    .where("retire_after", "is", null)
    .where("kid", "!=", except)
    .execute();
}

export async function setActivateAt(trx: Transaction<Database>, kid: string, activateAt: string): Promise<void> {
  await trx.updateTable("tokenver_signing_keys").set({ activate_at: activateAt }).where("kid", "=", kid).execute();
}

export async function deleteKeyRow(trx: Transaction<Database>, kid: string): Promise<number> {
  const result = await trx.deleteFrom("tokenver_signing_keys").where("kid", "=", kid).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Keys whose last token has expired. */
export async function deleteRetiredKeys(trx: Transaction<Database>, now: string): Promise<void> {
  await trx.deleteFrom("tokenver_signing_keys").where("retire_after", "is not", null).where("retire_after", "<=", now).execute();
}
