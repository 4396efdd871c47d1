import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import express from "express";
import { problemHandler, tokenver } from "../src/http/express/guard.js";
import { listenExpress } from "./library/helpers.js";
import { dialects } from "./support/databases.js";
import { Api, claimsOf, startServer, uniqueEmail, type TestServer } from "./support/server.js";

// GET /sessions?limit=&cursor= (issue 19): limit 1..100 (default 50); the response is the
// contract's {sessions} plus next_cursor (null on the last page); oldest first; the cursor is
// opaque and stable under inserts; a bad cursor or limit is 400 validation_failed.

const PASSWORD = "a long and unguessable passphrase";

interface Page {
  sessions: Array<{ id: string; created_at: string; current: boolean }>;
  next_cursor: string | null;
}

async function page(api: Api, access: string, query = ""): Promise<Page> {
  const response = await api.get(`/sessions${query}`, access);
  assert.equal(response.status, 200, response.text);
  assert.deepEqual(Object.keys(response.body).sort(), ["next_cursor", "sessions"]);
  return response.body as Page;
}

/** Every page of `limit`, following next_cursor to the end. */
async function allPages(api: Api, access: string, limit: number): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const next: Page = await page(api, access, `?limit=${limit}${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`);
    pages.push(next);
    cursor = next.next_cursor;
  } while (cursor !== null && pages.length < 100);
  return pages;
}

/** A user with `count` sessions (registration + logins); returns the newest session's access token. */
async function userWithSessions(api: Api, count: number) {
  const user = await api.register(uniqueEmail(), PASSWORD);
  let access = user.access;
  for (let i = 1; i < count; i++) access = (await api.login(user.email, PASSWORD)).access;
  return { ...user, access };
}

function assertInvalid(response: { status: number; body: any; text: string }, field: string, what: string) {
  assert.equal(response.status, 400, `${what}: ${response.text}`);
  assert.equal(response.body.code, "validation_failed", what);
  assert.ok(
    response.body.errors.some((e: { field: string }) => e.field === field),
    `${what}: names ${field}: ${response.text}`,
  );
}

for (const dialect of dialects()) {
  describe(`GET /sessions pages (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer({ dialect });
    });
    after(() => server.close());

    test("pages of `limit`, oldest first, next_cursor null on the last; together they are the whole list", async () => {
      const { api } = server;
      const user = await userWithSessions(api, 7);
      const whole = await page(api, user.access, "?limit=100");
      assert.equal(whole.sessions.length, 7);
      assert.equal(whole.next_cursor, null);
      const sorted = [...whole.sessions].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
      assert.deepEqual(whole.sessions, sorted, "oldest first");

      const pages = await allPages(api, user.access, 3);
      assert.deepEqual(
        pages.map((p) => p.sessions.length),
        [3, 3, 1],
      );
      assert.ok(pages.slice(0, -1).every((p) => typeof p.next_cursor === "string" && p.next_cursor.length > 0));
      assert.equal(pages.at(-1)!.next_cursor, null);
      assert.deepEqual(
        pages.flatMap((p) => p.sessions),
        whole.sessions,
      );
      assert.deepEqual(
        pages.flatMap((p) => p.sessions.filter((s) => s.current).map((s) => s.id)),
        [claimsOf(user.access).sid],
      );

      // A page that ends exactly at the last session has no next page.
      const exact = await page(api, user.access, "?limit=7");
      assert.equal(exact.sessions.length, 7);
      assert.equal(exact.next_cursor, null);
    });

    test("default limit 50; the contract's first page is unchanged for a user with fewer", async () => {
      const { api } = server;
      const user = await userWithSessions(api, 52);
      const first = await page(api, user.access);
      assert.equal(first.sessions.length, 50);
      assert.notEqual(first.next_cursor, null);
      const rest = await page(api, user.access, `?cursor=${first.next_cursor}`);
      assert.equal(rest.sessions.length, 2);
      assert.equal(rest.next_cursor, null);

      const few = await userWithSessions(api, 2);
      const only = await page(api, few.access);
      assert.equal(only.sessions.length, 2);
      assert.equal(only.next_cursor, null);
    });

    test("stable under inserts and deletes: sessions created or revoked meanwhile neither repeat nor skip any", async () => {
      const { api } = server;
      const user = await userWithSessions(api, 5);
      const first = await page(api, user.access, "?limit=2");
      const before = (await page(api, user.access, "?limit=100")).sessions.map((s) => s.id);
      // Two new sessions, and one of the first page revoked.
      await api.login(user.email, PASSWORD);
      const newest = await api.login(user.email, PASSWORD);
      assert.equal((await api.request("DELETE", `/sessions/${first.sessions[0]!.id}`, { token: user.access })).status, 204);

      const rest: string[] = [];
      let cursor = first.next_cursor;
      while (cursor !== null) {
        const next = await page(api, user.access, `?limit=2&cursor=${cursor}`);
        rest.push(...next.sessions.map((s) => s.id));
        cursor = next.next_cursor;
      }
      assert.deepEqual(rest.slice(0, 3), before.slice(2), "the older sessions follow on, in order, none repeated");
      assert.equal(rest.length, 5, "then the two new ones, at the end");
      assert.equal(rest.at(-1), claimsOf(newest.access).sid);
    });

    test("bad limits and cursors are 400 validation_failed; unknown parameters are ignored", async () => {
      const { api } = server;
      const user = await userWithSessions(api, 1);
      for (const limit of ["0", "101", "abc", "-1", "1.5", "", "1000", "1e2"]) {
        assertInvalid(await api.get(`/sessions?limit=${limit}`, user.access), "limit", `limit=${limit}`);
      }
      assertInvalid(await api.get("/sessions?limit=1&limit=2", user.access), "limit", "two limits");
      const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
      const badCursors = [
        "not a cursor!",
        "%00",
        "x".repeat(300),
        Buffer.from("not json").toString("base64url"),
        encode(["2030-01-01T00:00:00.000Z"]),
        encode(["yesterday", "id"]),
        encode(["2030-01-01T00:00:00.000Z", ""]),
        encode(["2030-01-01T00:00:00.000Z", 7]),
        encode({ created_at: "2030-01-01T00:00:00.000Z", id: "x" }),
        // Instants Date.parse takes and PostgreSQL's timestamptz refuses: 400, never a 500 from the database.
        encode(["2030-02-30T00:00:00.000Z", "id"]),
        encode(["0000-01-01T00:00:00.000Z", "id"]),
        encode(["2030-01-01T24:00:00.000Z", "id"]),
      ];
      for (const cursor of badCursors) {
        assertInvalid(
          await api.get(`/sessions?cursor=${encodeURIComponent(cursor)}`, user.access),
          "cursor",
          `cursor ${cursor.slice(0, 20)}`,
        );
      }
      assert.equal((await api.get("/sessions?unknown=1", user.access)).status, 200);
      // A cursor of another user's session is only a position: it shows nothing of theirs.
      const stranger = await userWithSessions(api, 2);
      const theirs = await page(api, stranger.access, "?limit=1");
      const mine = await page(api, user.access, `?cursor=${theirs.next_cursor}`);
      assert.ok(mine.sessions.every((s) => !theirs.sessions.some((t) => t.id === s.id)));
    });
  });

  describe(`GET /sessions pages with equal created_at (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      // A frozen clock: every session is created at the same instant, so only the id orders them.
      server = await startServer({ dialect, clock: () => Date.parse("2030-06-01T00:00:00Z") });
    });
    after(() => server.close());

    test("ties are ordered by id: pages of 2 cover every session once", async () => {
      const { api } = server;
      const user = await userWithSessions(api, 5);
      const pages = await allPages(api, user.access, 2);
      const ids = pages.flatMap((p) => p.sessions.map((s) => s.id));
      assert.equal(ids.length, 5);
      assert.equal(new Set(ids).size, 5);
      assert.deepEqual(ids, [...ids].sort());
    });
  });
}

describe("listSessions as a library method", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test("listSessions(principal, { limit, cursor }) -> { sessions, nextCursor }", async () => {
    const { api, auth } = server;
    const user = await userWithSessions(api, 3);
    const principal = await auth.verify(`Bearer ${user.access}`);
    const first = await auth.listSessions(principal, { limit: 2 });
    assert.equal(first.sessions.length, 2);
    assert.equal(typeof first.nextCursor, "string");
    const second = await auth.listSessions(principal, { limit: 2, cursor: first.nextCursor });
    assert.equal(second.sessions.length, 1);
    assert.equal(second.nextCursor, null);
    assert.equal((await auth.listSessions(principal)).sessions.length, 3);
    await assert.rejects(auth.listSessions(principal, { limit: 0 }), { code: "validation_failed" });
    await assert.rejects(auth.listSessions(principal, { limit: 2.5 }), { code: "validation_failed" });
    await assert.rejects(auth.listSessions(principal, { cursor: "nope" }), { code: "validation_failed" });
  });

  test("the Express adapter takes the same query and answers the same pages", async () => {
    const app = express();
    app.use(tokenver({ auth: server.auth }));
    app.use(problemHandler);
    const listening = await listenExpress(app);
    try {
      const api = new Api(listening.url);
      const user = await userWithSessions(api, 3);
      const pages = await allPages(api, user.access, 2);
      assert.deepEqual(
        pages.map((p) => p.sessions.length),
        [2, 1],
      );
      assertInvalid(await api.get("/sessions?limit=0", user.access), "limit", "limit=0");
      assertInvalid(await api.get("/sessions?limit=1&limit=2", user.access), "limit", "two limits");
      assertInvalid(await api.get("/sessions?cursor=nope", user.access), "cursor", "cursor");
    } finally {
      await listening.close();
    }
  });
});
