import { Kysely, Migrator, PostgresAdapter, sql, type Migration, type MigrationProvider } from "kysely";
import { initial } from "./0001_initial.js";
import { refreshTokenRevokedAt } from "./0002_refresh_token_revoked_at.js";
import { emailKeys } from "./0003_email_keys.js";
import { mailOutbox } from "./0004_mail_outbox.js";
import { events } from "./0005_events.js";
import { admin } from "./0006_admin.js";
import { browser } from "./0007_browser.js";
import { signingKeys } from "./0008_signing_keys.js";
import { recovery } from "./0009_recovery.js";
import { mfa } from "./0010_mfa.js";
import { graceSealIndex } from "./0012_grace_seal_index.js";
import { nativeTypes } from "./0013_native_types.js";
import { DEFAULT_LAYOUT, isTokenverTable, MIGRATION_LOCK_TABLE, MIGRATION_TABLE, tableName, type TableLayout } from "../table-layout.js";

/** Migrations as code, one file per schema change, never edited once released. */
const migrations: Record<string, Migration> = {
  "0001_initial": initial,
  "0002_refresh_token_revoked_at": refreshTokenRevokedAt,
  "0003_email_keys": emailKeys,
  "0004_mail_outbox": mailOutbox,
  "0005_events": events,
  "0006_admin": admin,
  "0007_browser": browser,
  "0008_signing_keys": signingKeys,
  "0009_recovery": recovery,
  "0010_mfa": mfa,
  "0012_grace_seal_index": graceSealIndex,
  "0013_native_types": nativeTypes,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/**
 * Applies every pending migration; safe to run concurrently (Kysely takes a lock). `db` must
 * already put tokenver's tables where `layout` says (store/database.ts does): the bookkeeping
 * tables are named and placed here, by the same layout.
 */
export async function migrateToLatest(db: Kysely<any>, layout: TableLayout = DEFAULT_LAYOUT): Promise<string[]> {
  return migrateTo(db, undefined, layout);
}

/**
 * Applies the pending migrations up to and including `name` (all of them when omitted): tests
 * build a database as an older release left it, fill it, then apply the rest.
 */
export async function migrateTo(db: Kysely<any>, name?: string, layout: TableLayout = DEFAULT_LAYOUT): Promise<string[]> {
  const before = await tableNames(db);
  const schemaExisted = layout.schema === undefined || (await schemaNames(db)).has(layout.schema);
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: tableName(layout, MIGRATION_TABLE),
    migrationLockTableName: tableName(layout, MIGRATION_LOCK_TABLE),
    // Kysely creates the schema when it is missing, before the first migration.
    ...(layout.schema === undefined ? {} : { migrationTableSchema: layout.schema }),
  });
  if (db.getExecutor().adapter instanceof PostgresAdapter) await waitForMigrationInProgress(db);
  const { error, results } = await (name === undefined ? migrator.migrateToLatest() : migrator.migrateTo(name));
  if (error) {
    await removeFailedFirstMigration(db, layout, before, schemaExisted).catch(() => {});
    throw error;
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/**
 * The advisory lock Kysely's migrator takes on PostgreSQL (kysely's postgres-adapter.js, LOCK_ID;
 * test/migration-lock-wait.test.ts fails if a Kysely upgrade changes it).
 */
export const KYSELY_MIGRATION_LOCK_ID = 3853314791062309107n;

/**
 * Waits until no other node holds the migration lock. Kysely's own wait is one statement, which
 * the store's pool stops after 10 s (database.ts): a node that starts while another runs a long
 * migration (0013 rewrites tables) would fail instead of waiting. This wait lifts that limit for
 * its own transaction, bounded as Kysely bounds its own (one hour), and lets the lock go at once;
 * the migrator then takes it and finds nothing left to do.
 */
async function waitForMigrationInProgress(db: Kysely<any>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`set local statement_timeout = 0`.execute(trx);
    await sql`set local lock_timeout = '1h'`.execute(trx);
    await sql`select pg_advisory_lock(${sql.lit(KYSELY_MIGRATION_LOCK_ID)})`.execute(trx);
    await sql`select pg_advisory_unlock(${sql.lit(KYSELY_MIGRATION_LOCK_ID)})`.execute(trx);
  });
}

interface TableId {
  schema: string | undefined;
  name: string;
}

const keyOf = (t: TableId) => `${t.schema ?? ""}.${t.name}`;

async function tableNames(db: Kysely<any>): Promise<Map<string, TableId>> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  return new Map(tables.map((t) => [keyOf({ schema: t.schema, name: t.name }), { schema: t.schema, name: t.name }]));
}

async function schemaNames(db: Kysely<any>): Promise<Set<string>> {
  return new Set((await db.introspection.getSchemas()).map((s) => s.name));
}

/**
 * A first start that failed (a table of the application's in the way, a permission missing) leaves
 * nothing behind: when this database had no tokenver migration table before and none was applied,
 * every table of tokenver's (by this layout's names, in its schema) that this attempt created
 * (the migration bookkeeping, and on SQLite, whose DDL Kysely does not run in a transaction, the
 * tables created before the failing one) is dropped, and the schema if this attempt created it
 * and it is empty. A database that was tokenver's before is never touched, nor a table that is
 * not tokenver's.
 */
async function removeFailedFirstMigration(
  db: Kysely<any>,
  layout: TableLayout,
  before: Map<string, TableId>,
  schemaExisted: boolean,
): Promise<void> {
  const migrationTable = tableName(layout, MIGRATION_TABLE);
  const inLayout = (t: TableId) => layout.schema === undefined || t.schema === layout.schema;
  if ([...before.values()].some((t) => t.name === migrationTable && inLayout(t))) return;
  // Names as the database lists them: no plugin may rename them again.
  const raw = db.withoutPlugins();
  const qualified = (t: TableId) => (t.schema === undefined || layout.schema === undefined ? t.name : `${t.schema}.${t.name}`);
  const applied = await raw
    .selectFrom(qualified({ schema: layout.schema, name: migrationTable }))
    .select("name")
    .execute()
    .catch(() => []);
  if (applied.length > 0) return;
  const created = [...(await tableNames(db)).entries()]
    .filter(([key, t]) => !before.has(key) && inLayout(t) && isTokenverTable(layout, t.name))
    .map(([, t]) => t);
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  // Foreign keys between the created tables: PostgreSQL drops with CASCADE, SQLite in passes.
  let remaining = created;
  for (let pass = 0; pass < created.length && remaining.length > 0; pass++) {
    const failed: TableId[] = [];
    for (const table of remaining) {
      const drop = raw.schema.dropTable(qualified(table)).ifExists();
      await (postgres ? drop.cascade() : drop).execute().catch(() => failed.push(table));
    }
    remaining = failed;
  }
  // Not CASCADE: a schema that holds anything else stays.
  if (!schemaExisted && layout.schema !== undefined) await raw.schema.dropSchema(layout.schema).ifExists().execute();
}
