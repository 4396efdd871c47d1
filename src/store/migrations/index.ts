import { Kysely, Migrator, type Migration, type MigrationProvider } from "kysely";
import { initial } from "./0001_initial.js";
import { refreshTokenRevokedAt } from "./0002_refresh_token_revoked_at.js";

/** Migrations as code, one file per schema change, never edited once released. */
const migrations: Record<string, Migration> = {
  "0001_initial": initial,
  "0002_refresh_token_revoked_at": refreshTokenRevokedAt,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Applies every pending migration; safe to run concurrently (Kysely takes a lock). */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: "tokenver_migration",
    migrationLockTableName: "tokenver_migration_lock",
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
