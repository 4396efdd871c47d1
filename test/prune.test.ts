import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openStore, type Store } from "../src/store/database.js";
import { createTestDatabase, dialects, type TestDatabase } from "./support/databases.js";
import { runCli } from "./support/process.js";
import { startServer, TEST_SECRET, type TestServer } from "./support/server.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
// Short lifetimes so the injected clock can walk past them: refresh tokens (and idle sessions)
// live one hour, access tokens one minute.
const TTL = { accessTtl: 60, refreshTtl: 3600 };

/** A clock the test moves by hand. */
function manualClock(start = Date.now()) {
  let now = start;
  return { clock: () => now, advance: (ms: number) => void (now += ms) };
}

/** Which of these rows still exist, read from the database itself (not through the service). */
async function surviving(store: Store, ids: { sessions?: string[]; refreshTokens?: string[] }) {
  const sessionIds = ids.sessions ?? [];
  const refreshIds = ids.refreshTokens ?? [];
  const sessions =
    sessionIds.length === 0 ? [] : await store.db.selectFrom("sessions").select("id").where("id", "in", sessionIds).execute();
  const refresh =
    refreshIds.length === 0 ? [] : await store.db.selectFrom("refresh_tokens").select("id").where("id", "in", refreshIds).execute();
  return { sessions: new Set(sessions.map((r) => r.id)), refreshTokens: new Set(refresh.map((r) => r.id)) };
}

const sessionOf = (access: string): string => JSON.parse(Buffer.from(access.split(".")[1]!, "base64url").toString("utf8")).sid;
/** The public half of an `id.secret` refresh token: its row id. */
const refreshIdOf = (refresh: string): string => refresh.split(".")[0]!;

for (const dialect of dialects()) {
  describe(`pruning expired sessions and refresh tokens (${dialect})`, () => {
    let dir: string;
    let database: TestDatabase;
    let store: Store;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "tokenver-prune-"));
      // A file, not :memory:, so the test (and the CLI) can open the same database.
      database = await createTestDatabase(dialect, join(dir, "prune.db"));
    });
    after(async () => {
      await store?.close();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    /** A server over the shared database with its own hand-moved clock. */
    async function serverAt(start: number): Promise<{ server: TestServer; advance: (ms: number) => void }> {
      const { clock, advance } = manualClock(start);
      const server = await startServer({ dialect, databaseUrl: database.url, clock, ...TTL });
      store ??= await openStore(database.url);
      return { server, advance };
    }

    test("auth.prune() deletes expired sessions and refresh tokens and keeps live ones", async () => {
      const { server, advance } = await serverAt(Date.now());
      try {
        const old = await server.api.register();
        advance(30 * MINUTE);
        const recent = await server.api.register();
        advance(31 * MINUTE); // old's session and refresh token expired a minute ago; recent's live 29 more
        const ids = {
          sessions: [sessionOf(old.access), sessionOf(recent.access)],
          refreshTokens: [refreshIdOf(old.refresh), refreshIdOf(recent.refresh)],
        };
        assert.equal((await surviving(store, ids)).sessions.size, 2, "both rows exist before pruning");

        const removed = await server.auth.prune();
        assert.ok(removed.sessions >= 1, "the expired session is counted");
        assert.ok(removed.refreshTokens >= 1, "the expired refresh token is counted");

        const left = await surviving(store, ids);
        assert.equal(left.sessions.has(sessionOf(old.access)), false, "expired session deleted");
        assert.equal(left.refreshTokens.has(refreshIdOf(old.refresh)), false, "expired refresh token deleted");
        assert.equal(left.sessions.has(sessionOf(recent.access)), true, "live session kept");
        assert.equal(left.refreshTokens.has(refreshIdOf(recent.refresh)), true, "live refresh token kept");

        // The live session still works end to end after the prune.
        const rotated = await server.api.post("/token/refresh", { refresh: recent.refresh });
        assert.equal(rotated.status, 200);
        assert.equal((await server.api.get("/profile", rotated.body.access)).status, 200);

        // A second prune finds nothing more of these.
        const again = await server.auth.prune();
        assert.equal(again.sessions, 0);
        assert.equal(again.refreshTokens, 0);
      } finally {
        await server.app.close();
        await server.auth.close();
      }
    });

    test("a used but unexpired refresh token survives pruning, so its reuse is still detected", async () => {
      const { server, advance } = await serverAt(Date.now());
      try {
        const user = await server.api.register();
        const rotated = await server.api.post("/token/refresh", { refresh: user.refresh });
        assert.equal(rotated.status, 200);
        advance(50 * MINUTE); // the used token has 10 minutes left

        await server.auth.prune();
        const left = await surviving(store, { refreshTokens: [refreshIdOf(user.refresh), refreshIdOf(rotated.body.refresh)] });
        assert.equal(left.refreshTokens.has(refreshIdOf(user.refresh)), true, "the used token is kept until it expires");
        assert.equal(left.refreshTokens.has(refreshIdOf(rotated.body.refresh)), true);

        const replay = await server.api.post("/token/refresh", { refresh: user.refresh });
        assert.equal(replay.status, 401);
        assert.equal(replay.body.code, "refresh_reused");
        // Reuse revoked the session: the rotated pair is dead too.
        assert.equal((await server.api.post("/token/refresh", { refresh: rotated.body.refresh })).body.code, "token_revoked");
      } finally {
        await server.app.close();
        await server.auth.close();
      }
    });

    test("a used refresh token is deleted once it has expired, while its session lives on", async () => {
      const { server, advance } = await serverAt(Date.now());
      try {
        const user = await server.api.register();
        advance(40 * MINUTE);
        const rotated = await server.api.post("/token/refresh", { refresh: user.refresh });
        assert.equal(rotated.status, 200);
        advance(21 * MINUTE); // the first token expired; the session was extended by the rotation

        await server.auth.prune();
        const left = await surviving(store, {
          sessions: [sessionOf(user.access)],
          refreshTokens: [refreshIdOf(user.refresh), refreshIdOf(rotated.body.refresh)],
        });
        assert.equal(left.refreshTokens.has(refreshIdOf(user.refresh)), false, "expired used token deleted");
        assert.equal(left.refreshTokens.has(refreshIdOf(rotated.body.refresh)), true, "current token kept");
        assert.equal(left.sessions.has(sessionOf(user.access)), true, "session kept");
        assert.equal((await server.api.post("/token/refresh", { refresh: rotated.body.refresh })).status, 200);
      } finally {
        await server.app.close();
        await server.auth.close();
      }
    });

    test("a revoked session is kept until it expires, so its tokens keep answering token_revoked", async () => {
      const { server, advance } = await serverAt(Date.now());
      try {
        const phone = await server.api.register();
        const laptop = await server.api.login(phone.email, phone.password);
        assert.equal((await server.api.post("/logout", { scope: "session" }, phone.access)).status, 204);
        advance(MINUTE / 2);

        await server.auth.prune();
        assert.equal(
          (await surviving(store, { sessions: [sessionOf(phone.access)] })).sessions.size,
          1,
          "the revoked session is still there",
        );
        const refresh = await server.api.post("/token/refresh", { refresh: phone.refresh });
        assert.equal(refresh.status, 401);
        assert.equal(refresh.body.code, "token_revoked");
        const access = await server.api.get("/profile", phone.access);
        assert.equal(access.body.code, "token_revoked");
        assert.equal((await server.api.get("/profile", laptop.access)).status, 200, "the other device is untouched");
      } finally {
        await server.app.close();
        await server.auth.close();
      }
    });

    test("`tokenver prune` deletes what expired by the real clock and keeps the rest", async () => {
      // Data written by servers whose clocks stand two days ago and now: with one-hour lifetimes,
      // the first user's rows expired long ago by the CLI's (real) clock, the second user's have not.
      const past = await serverAt(Date.now() - 2 * DAY);
      const stale = await past.server.api.register();
      await past.server.app.close();
      await past.server.auth.close();
      const present = await serverAt(Date.now());
      const live = await present.server.api.register();
      const rotated = await present.server.api.post("/token/refresh", { refresh: live.refresh });
      assert.equal(rotated.status, 200);
      await present.server.app.close();
      await present.server.auth.close();

      const result = await runCli(["prune"], {
        TOKENVER_DATABASE_URL: database.url,
        TOKENVER_SECRET: TEST_SECRET,
        TOKENVER_LOG_LEVEL: "warn",
      });
      assert.equal(result.code, 0, result.stderr);
      const counts = /pruned (\d+) sessions, (\d+) refresh tokens and \d+ security events/.exec(result.stdout);
      assert.ok(counts, "the CLI reports what it removed");
      assert.ok(Number(counts[1]) >= 1);
      assert.ok(Number(counts[2]) >= 1);

      const left = await surviving(store, {
        sessions: [sessionOf(stale.access), sessionOf(live.access)],
        refreshTokens: [refreshIdOf(stale.refresh), refreshIdOf(live.refresh), refreshIdOf(rotated.body.refresh)],
      });
      assert.equal(left.sessions.has(sessionOf(stale.access)), false, "expired session deleted");
      assert.equal(left.refreshTokens.has(refreshIdOf(stale.refresh)), false, "expired refresh token deleted");
      assert.equal(left.sessions.has(sessionOf(live.access)), true, "live session kept");
      assert.equal(left.refreshTokens.has(refreshIdOf(rotated.body.refresh)), true, "current refresh token kept");
      assert.equal(left.refreshTokens.has(refreshIdOf(live.refresh)), true, "used but unexpired refresh token kept");
    });
  });
}
