/**
 * A migrated SQLite file as the server opens it (tokenver's store, its one connection) with one
 * user `u1`, and a second connection to the same file standing for another process (a `tokenver`
 * command), without a busy timeout: a write of it that would have to wait fails at once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openStore, type Store } from "../../src/store/database.js";
import { migrateToLatest } from "../../src/store/migrations/index.js";
import { insertUser } from "../../src/store/queries/users.js";

export interface SqliteFileWithOther {
  store: Store;
  other: Database.Database;
  /** A commit of the other process that changes the file (a new username for `u1` each time). */
  otherCommits: () => Database.RunResult;
  close: () => Promise<void>;
}

export async function sqliteFileWithOther(name: string): Promise<SqliteFileWithOther> {
  const dir = mkdtempSync(join(tmpdir(), `tokenver-${name}-`));
  const file = join(dir, "store.db");
  const store = await openStore(`sqlite:${file}`);
  await migrateToLatest(store.db);
  const now = new Date().toISOString();
  await insertUser(store.db, { id: "u1", email: "u1@example.test", username: null, password_hash: "x", profile: "{}", now });
  const other = new Database(file);
  other.pragma("busy_timeout = 0");
  // A new value each time: a commit that changes nothing may write nothing.
  let writes = 0;
  const otherCommits = () => other.prepare("update users set username = ? where id = 'u1'").run(`cli-${++writes}`);
  return {
    store,
    other,
    otherCommits,
    close: async () => {
      other.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
