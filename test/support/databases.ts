import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * The dialects every store test runs on: SQLite always; PostgreSQL when TOKENVER_TEST_DATABASE_URL
 * is set (CI sets it and fails if it is unreachable). Each test file gets its own database.
 */
export interface TestDatabase {
  name: "sqlite" | "postgres";
  url: string;
  drop(): Promise<void>;
}

export const POSTGRES_URL = process.env.TOKENVER_TEST_DATABASE_URL || undefined;
export const REDIS_URL = process.env.TOKENVER_TEST_REDIS_URL || undefined;

export type DialectName = "sqlite" | "postgres";

export function dialects(): DialectName[] {
  return POSTGRES_URL ? ["sqlite", "postgres"] : ["sqlite"];
}

/** A fresh, empty database of the dialect; `drop()` removes it. */
export async function createTestDatabase(dialect: DialectName, file?: string): Promise<TestDatabase> {
  if (dialect === "sqlite") return { name: "sqlite", url: file ? `sqlite:${file}` : "sqlite::memory:", drop: async () => {} };
  if (!POSTGRES_URL) throw new Error("TOKENVER_TEST_DATABASE_URL is not set");
  const name = `tokenver_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    name: "postgres",
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: POSTGRES_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** A key prefix of its own for a test, so runs never see each other's keys. */
export function redisTestPrefix(): string {
  return `tokenver-test:${process.pid}:${randomBytes(4).toString("hex")}:`;
}
