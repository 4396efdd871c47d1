// Unit tests for src/store/revocation/database-state.ts, the per-request read of the database of
// record, on every dialect: it answers owner, version and liveness, and sees only what committed.
// SQLite has one connection for the whole process, so a statement run while a transaction is open
// on it would read that transaction's uncommitted writes.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { openStore, type Store } from "../../../../src/store/database.js";
import { migrateToLatest } from "../../../../src/store/migrations/index.js";
import { DatabaseRevocationState } from "../../../../src/store/revocation/database-state.js";
import { createTestDatabase, dialects, type TestDatabase } from "../../../support/databases.js";

const NOW = new Date().toISOString();

for (const dialect of dialects()) {
  describe(`database revocation state (${dialect})`, () => {
    let database: TestDatabase;
    let store: Store;
    let state: DatabaseRevocationState;

    async function addSession(id: string, tokenVersion: number, revokedAt: string | null = null): Promise<void> {
      await store.db
        .insertInto("sessions")
        .values({
          id,
          user_id: "u1",
          token_version: tokenVersion,
          created_at: NOW,
          last_used_at: NOW,
          expires_at: NOW,
          revoked_at: revokedAt,
          user_agent: null,
          ip: null,
        })
        .execute();
    }

    before(async () => {
      database = await createTestDatabase(dialect);
      store = await openStore(database.url);
      await migrateToLatest(store.db);
      state = new DatabaseRevocationState(store.db, store.sqlite);
      await store.db
        .insertInto("users")
        .values({
          id: "u1",
          email: "a@example.com",
          username: null,
          password_hash: "x",
          token_version: 3,
          profile: "{}",
          created_at: NOW,
          updated_at: NOW,
        })
        .execute();
      await addSession("live", 3);
      await addSession("behind", 2);
      await addSession("revoked", 3, NOW);
    });
    after(async () => {
      await store?.close();
      await database?.drop();
    });

    test("owner, the user's version and liveness; unknown sessions are undefined", async () => {
      assert.deepEqual(await state.get("live"), { userId: "u1", tokenVersion: 3, revoked: false });
      assert.deepEqual(
        await state.get("behind"),
        { userId: "u1", tokenVersion: 3, revoked: true },
        "a session behind the user's version is dead",
      );
      assert.deepEqual(await state.get("revoked"), { userId: "u1", tokenVersion: 3, revoked: true });
      assert.equal(await state.get("unknown"), undefined);
    });

    test("a write that rolls back is never read", async () => {
      let read: Promise<unknown> | undefined;
      await assert.rejects(
        store.db.transaction().execute(async (trx) => {
          await trx.updateTable("users").set({ token_version: 4 }).where("id", "=", "u1").execute();
          read = state.get("live");
          throw new Error("roll back");
        }),
        /roll back/,
      );
      assert.deepEqual(await read, { userId: "u1", tokenVersion: 3, revoked: false }, "the rolled-back version 4 was read");
    });

    test("ping answers while the database does", async () => {
      await state.ping();
    });
  });
}

describe("database revocation state (sqlite, one connection)", () => {
  test("a read during an open transaction waits for its commit", async () => {
    const store = await openStore("sqlite::memory:");
    try {
      await migrateToLatest(store.db);
      const state = new DatabaseRevocationState(store.db, store.sqlite);
      await store.db
        .insertInto("users")
        .values({
          id: "u1",
          email: "a@example.com",
          username: null,
          password_hash: "x",
          token_version: 0,
          profile: "{}",
          created_at: NOW,
          updated_at: NOW,
        })
        .execute();
      let read: Promise<unknown> | undefined;
      await store.db.transaction().execute(async (trx) => {
        await trx
          .insertInto("sessions")
          .values({
            id: "s1",
            user_id: "u1",
            token_version: 0,
            created_at: NOW,
            last_used_at: NOW,
            expires_at: NOW,
            revoked_at: null,
            user_agent: null,
            ip: null,
          })
          .execute();
        read = state.get("s1");
      });
      assert.deepEqual(await read, { userId: "u1", tokenVersion: 0, revoked: false });
    } finally {
      await store.close();
    }
  });
});
