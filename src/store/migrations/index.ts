import { Kysely, Migrator, PostgresAdapter, type Migration, type MigrationProvider } from "kysely";
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
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Applies every pending migration; safe to run concurrently (Kysely takes a lock). */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  return migrateTo(db);
}

/**
 * Applies the pending migrations up to and including `name` (all of them when omitted): tests
 * build a database as an older release left it, fill it, then apply the rest.
 */
export async function migrateTo(db: Kysely<any>, name?: string): Promise<string[]> {
  const before = await tableNames(db);
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: "tokenver_migration_lock",
  });
  const { error, results } = await (name === undefined ? migrator.migrateToLatest() : migrator.migrateTo(name));
  if (error) {
    await removeFailedFirstMigration(db, before).catch(() => {});
    throw error;
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

const MIGRATION_TABLE = "tokenver_migration";

async function tableNames(db: Kysely<any>): Promise<Set<string>> {
  return new Set((await db.introspection.getTables({ withInternalKyselyTables: true })).map((t) => t.name));
}

/**
 * A first start that failed (a table of the application's in the way, a permission missing) leaves
 * nothing behind: when this database had no tokenver migration table before and none was applied,
 * every table this attempt created (the migration bookkeeping, and on SQLite, whose DDL Kysely does
 * not run in a transaction, the tables created before the failing one) is dropped. A database
 * that was tokenver's before is never touched.
 */
async function removeFailedFirstMigration(db: Kysely<any>, before: Set<string>): Promise<void> {
  if (before.has(MIGRATION_TABLE)) return;
  const applied = await db
    .selectFrom(MIGRATION_TABLE)
    .select("name")
    .execute()
    .catch(() => []);
  if (applied.length > 0) return;
  const created = [...(await tableNames(db))].filter((name) => !before.has(name));
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  // Foreign keys between the created tables: PostgreSQL drops with CASCADE, SQLite in passes.
  let remaining = created;
  for (let pass = 0; pass < created.length && remaining.length > 0; pass++) {
    const failed: string[] = [];
    for (const name of remaining) {
      const drop = db.schema.dropTable(name).ifExists();
      await (postgres ? drop.cascade() : drop).execute().catch(() => failed.push(name));
    }
    remaining = failed;
  }
}
