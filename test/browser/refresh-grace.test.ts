import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type Store } from "../../src/store/database.js";
import { createTestDatabase, dialects, type TestDatabase } from "../support/databases.js";
import { claimsOf, startServer, type TestServer } from "../support/server.js";
import { PASSWORD } from "./helpers.js";

// The refresh grace of docs/api.md section 6: a token presented again within
// TOKENVER_REFRESH_GRACE seconds gets the same successor while it is unused and the session
// lives; everything else is reuse, as in section 3.
const GRACE = 10;

for (const dialect of dialects()) {
  describe(`refresh grace (${dialect})`, () => {
    let server: TestServer;
    let now = Date.now();
    let dir: string;
    let database: TestDatabase;
    let store: Store;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "tokenver-grace-"));
      // A file, not :memory:, so the test reads the stored rows itself.
      database = await createTestDatabase(dialect, join(dir, "grace.db"));
      server = await startServer({ dialect, databaseUrl: database.url, sqliteLock: false, refreshGrace: GRACE, clock: () => now });
      store = await openStore(database.url);
    });
    after(async () => {
      await store.close();
      await server.close();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    const sealsOf = async (sessionId: string) =>
      (
        await store.db
          .selectFrom("refresh_tokens")
          .select(["id", "successor_sealed"])
          .where("session_id", "=", sessionId)
          .where("successor_sealed", "is not", null)
          .execute()
      ).map((r) => r.successor_sealed!);

    const refresh = (token: string) => server.api.post("/token/refresh", { refresh: token });

    test("two concurrent refreshes of one token both succeed, with the same successor; the session lives", async () => {
      const user = await server.api.register();
      const [a, b] = await Promise.all([refresh(user.refresh), refresh(user.refresh)]);
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(b.status, 200, JSON.stringify(b.body));
      assert.equal(a.body.refresh, b.body.refresh, "one successor");
      assert.equal(claimsOf(a.body.access).sid, claimsOf(user.access).sid);
      for (const r of [a, b]) assert.equal((await server.api.get("/profile", r.body.access)).status, 200);
      // The successor rotates once, normally.
      const next = await refresh(a.body.refresh);
      assert.equal(next.status, 200);
      assert.equal((await server.api.get("/profile", next.body.access)).status, 200);
    });

    test("20 parallel refreshes of one token inside the grace: all 200, one successor", async () => {
      const user = await server.api.register();
      const answers = await Promise.all(Array.from({ length: 20 }, () => refresh(user.refresh)));
      assert.deepEqual(
        answers.map((r) => r.status),
        answers.map(() => 200),
        JSON.stringify(answers.map((r) => r.body?.code)),
      );
      assert.equal(new Set(answers.map((r) => r.body.refresh)).size, 1);
    });

    test("the grace answer: same successor with its original expiry, a new access token at the current version; an event", async () => {
      const user = await server.api.register();
      const first = await refresh(user.refresh);
      now += 3000;
      const again = await refresh(user.refresh);
      assert.equal(again.status, 200);
      assert.equal(again.body.refresh, first.body.refresh);
      assert.notEqual(again.body.access, first.body.access);
      assert.equal(claimsOf(again.body.access).token_version, 0);
      await server.auth.flushEvents();
      const events = await server.auth.listEvents({ type: "refresh.grace", userId: user.user.id });
      assert.equal(events.events.length, 1);
      assert.equal(events.events[0]!.sessionId, claimsOf(user.access).sid);
      assert.doesNotMatch(JSON.stringify(events.events[0]), new RegExp(first.body.refresh.split(".")[1]));
    });

    test("the successor is stored sealed, never in plaintext, and erased once used or the session is revoked", async () => {
      const user = await server.api.register();
      const sid = claimsOf(user.access).sid;
      const first = await refresh(user.refresh);
      const [sealed] = await sealsOf(sid);
      assert.ok(sealed !== undefined, "sealed for the window");
      const [, secret] = first.body.refresh.split(".");
      assert.doesNotMatch(sealed!, new RegExp(secret));
      assert.ok(!Buffer.from(sealed!, "base64url").toString("latin1").includes(secret));
      const second = await refresh(first.body.refresh);
      assert.equal(second.status, 200);
      assert.equal((await sealsOf(sid)).length, 1, "the first seal went when its successor was used; the new one is there");
      assert.equal((await server.api.request("POST", "/logout", { token: second.body.access, body: { scope: "session" } })).status, 204);
      assert.deepEqual(await sealsOf(sid), [], "erased with the session");
      // And when the window ends: pruned.
      const other = await server.api.register();
      await refresh(other.refresh);
      now += (GRACE + 1) * 1000;
      await server.auth.prune();
      assert.deepEqual(await sealsOf(claimsOf(other.access).sid), []);
    });

    test("after the window it is reuse: refresh_reused, and the session is revoked", async () => {
      const user = await server.api.register();
      const first = await refresh(user.refresh);
      now += (GRACE + 1) * 1000;
      const late = await refresh(user.refresh);
      assert.equal(late.status, 401);
      assert.equal(late.body.code, "refresh_reused");
      assert.equal((await server.api.get("/profile", first.body.access)).status, 401);
      assert.equal((await refresh(first.body.refresh)).status, 401);
    });

    test("once the successor was used it is reuse", async () => {
      const user = await server.api.register();
      const first = await refresh(user.refresh);
      const second = await refresh(first.body.refresh);
      assert.equal(second.status, 200);
      const late = await refresh(user.refresh);
      assert.equal(late.body.code, "refresh_reused");
      assert.equal((await server.api.get("/profile", second.body.access)).status, 401, "the session is revoked");
    });

    test("after a logout the grace is refused (token_revoked)", async () => {
      const user = await server.api.register();
      const first = await refresh(user.refresh);
      assert.equal((await server.api.request("POST", "/logout", { token: first.body.access, body: { scope: "session" } })).status, 204);
      const late = await refresh(user.refresh);
      assert.equal(late.status, 401);
      assert.equal(late.body.code, "token_revoked");
    });

    test("after a password change the grace is refused: the successor is no longer handed out", async () => {
      const user = await server.api.register();
      const first = await refresh(user.refresh);
      const changed = await server.api.request("POST", "/password", {
        token: first.body.access,
        body: { current_password: PASSWORD, new_password: "another long passphrase 77" },
      });
      assert.equal(changed.status, 200);
      const late = await refresh(user.refresh);
      assert.equal(late.status, 401);
      assert.ok(["refresh_reused", "token_revoked"].includes(late.body.code), late.body.code);
      assert.notEqual(late.body.refresh, first.body.refresh);
    });

    test("a token rotated by the password change (not by a refresh) gets no grace", async () => {
      const user = await server.api.register();
      const changed = await server.api.request("POST", "/password", {
        token: user.access,
        body: { current_password: PASSWORD, new_password: "another long passphrase 78" },
      });
      assert.equal(changed.status, 200);
      const old = await refresh(user.refresh);
      assert.equal(old.status, 401);
    });
  });
}

describe("refresh grace off (TOKENVER_REFRESH_GRACE=0)", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ refreshGrace: 0 });
  });
  after(() => server.close());

  test("a used token presented again at once is reuse", async () => {
    const user = await server.api.register();
    assert.equal((await server.api.post("/token/refresh", { refresh: user.refresh })).status, 200);
    const again = await server.api.post("/token/refresh", { refresh: user.refresh });
    assert.equal(again.body.code, "refresh_reused");
  });
});

// The window's end erases the seal by itself (core/browser/seal-sweep.ts), without a prune: a
// one-second window, no clock tolerance (the sweep waits that much longer), the real clock, and
// nothing else happening to the session.
for (const dialect of dialects()) {
  describe(`refresh grace: the seal goes when the window ends (${dialect})`, () => {
    let server: TestServer;
    let dir: string;
    let database: TestDatabase;
    let store: Store;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "tokenver-grace-sweep-"));
      database = await createTestDatabase(dialect, join(dir, "grace.db"));
      server = await startServer({
        dialect,
        databaseUrl: database.url,
        sqliteLock: false,
        refreshGrace: 1,
        clockTolerance: 0,
        pruneInterval: 0,
      });
      store = await openStore(database.url);
    });
    after(async () => {
      await store.close();
      await server.close();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    test("a sealed successor is erased within two windows of its rotation, with no prune and no use", async () => {
      const user = await server.api.register();
      const sid = claimsOf(user.access).sid;
      assert.equal((await server.api.post("/token/refresh", { refresh: user.refresh })).status, 200);
      const sealed = () =>
        store.db
          .selectFrom("refresh_tokens")
          .select("id")
          .where("session_id", "=", sid)
          .where("successor_sealed", "is not", null)
          .execute();
      assert.equal((await sealed()).length, 1, "sealed for the window");
      const deadline = Date.now() + 2_500;
      while ((await sealed()).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(await sealed(), [], "erased by the sweep once the window ended");
    });
  });
}
