/**
 * Seeds N users and 2N sessions directly through the store layer (never HTTP): raw prepared
 * inserts in big transactions on SQLite, server-side set-based INSERT ... SELECT on PostgreSQL.
 * Ids are deterministic UUID-shaped strings (md5 of "u<i>" / "s<i>", as PostgreSQL's
 * md5(text)::uuid::text spells them), so a sample of sessions can be named without reading back.
 * Session k belongs to user floor(k / 2).
 */
import { createHash } from "node:crypto";
import { sql } from "kysely";
import { openStore } from "../src/store/database.js";
import { migrateToLatest } from "../src/store/migrations/index.js";

export interface SeedSpec {
  users: number;
  passwordHash: string;
  /** Sessions expire this far in the future (ms since the epoch). */
  expiresAt: number;
}

export const userId = (i: number): string => md5Uuid(`u${i}`);
export const sessionId = (k: number): string => md5Uuid(`s${k}`);
export const userEmail = (i: number): string => `bench-${i}@example.com`;

function md5Uuid(text: string): string {
  const h = createHash("md5").update(text).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const SQLITE_BATCH = 20_000;

export async function seedSqlite(file: string, spec: SeedSpec): Promise<void> {
  const store = await openStore(`sqlite:${file}`);
  try {
    await migrateToLatest(store.db);
    const db = store.sqlite!;
    // A throwaway bench file: durability of the seed does not matter, its speed does.
    db.pragma("synchronous = OFF");
    // Random-keyed indexes thrash SQLite's default 2 MB page cache; 256 MB keeps them in memory.
    db.pragma("cache_size = -262144");
    const now = new Date().toISOString();
    const expires = new Date(spec.expiresAt).toISOString();
    const insertUser = db.prepare(
      `INSERT INTO users (id, email, username, password_hash, token_version, profile, created_at, updated_at)
       VALUES (?, ?, NULL, ?, 0, '{}', ?, ?)`,
    );
    const insertSession = db.prepare(
      `INSERT INTO sessions (id, user_id, token_version, created_at, last_used_at, expires_at, revoked_at, user_agent, ip)
       VALUES (?, ?, 0, ?, ?, ?, NULL, 'bench', '127.0.0.1')`,
    );
    const batch = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const id = userId(i);
        insertUser.run(id, userEmail(i), spec.passwordHash, now, now);
        insertSession.run(sessionId(2 * i), id, now, now, expires);
        insertSession.run(sessionId(2 * i + 1), id, now, now, expires);
      }
    });
    for (let from = 0; from < spec.users; from += SQLITE_BATCH) batch(from, Math.min(spec.users, from + SQLITE_BATCH));
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.exec("ANALYZE");
  } finally {
    await store.close();
  }
}

const PG_BATCH = 100_000;

export async function seedPostgres(url: string, spec: SeedSpec): Promise<void> {
  const store = await openStore(url);
  try {
    await migrateToLatest(store.db);
    const now = new Date().toISOString();
    const expires = new Date(spec.expiresAt).toISOString();
    // Cast: in INSERT ... SELECT a parameter is text, which has no implicit cast to timestamptz or jsonb (migration 0013).
    for (let from = 0; from < spec.users; from += PG_BATCH) {
      const to = Math.min(spec.users, from + PG_BATCH) - 1;
      await store.db.transaction().execute(async (trx) => {
        await sql`INSERT INTO users (id, email, username, password_hash, token_version, profile, created_at, updated_at)
          SELECT md5('u' || i)::uuid::text, 'bench-' || i || '@example.com', NULL, ${spec.passwordHash}, 0, '{}'::jsonb, ${now}::timestamptz, ${now}::timestamptz
          FROM generate_series(${from}::int, ${to}::int) AS i`.execute(trx);
        await sql`INSERT INTO sessions (id, user_id, token_version, created_at, last_used_at, expires_at, revoked_at, user_agent, ip)
          SELECT md5('s' || k)::uuid::text, md5('u' || (k / 2))::uuid::text, 0, ${now}::timestamptz, ${now}::timestamptz, ${expires}::timestamptz, NULL, 'bench', '127.0.0.1'
          FROM generate_series(${2 * from}::int, ${2 * to + 1}::int) AS k`.execute(trx);
      });
    }
    await sql`ANALYZE`.execute(store.db);
  } finally {
    await store.close();
  }
}
