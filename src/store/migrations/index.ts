import { Kysely, Migrator, type Migration, type MigrationProvider } from "kysely";
import { initial } from "./0001_initial.js";
import { refreshTokenRevokedAt } from "./0002_refresh_token_revoked_at.js";
import { emailKeys } from "./0003_email_keys.js";
import { mailOutbox } from "./0004_mail_outbox.js";
import { admin } from "./0005_admin.js";

/** Migrations as code, one file per schema change, never edited once released. */
const migrations: Record<string, Migration> = {
  "0001_initial": initial,
  "0002_refresh_token_revoked_at": refreshTokenRevokedAt,
  "0003_email_keys": emailKeys,
  "0004_mail_outbox": mailOutbox,
  "0005_admin": admin,
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
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: "tokenver_migration",
    migrationLockTableName: "tokenver_migration_lock",
  });
  const { error, results } = await (name === undefined ? migrator.migrateToLatest() : migrator.migrateTo(name));
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
