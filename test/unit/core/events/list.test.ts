// src/core/events/list.ts (GET /events and the admins' `auth.listEvents`) over the real core and a
// real SQLite store (test/support/sqlite-core.ts): a user sees only their own last 50, newest
// first, including what their requests just recorded; the admin list filters by user and type and
// pages by an opaque cursor without repeats or gaps; and a filter or cursor that is not one the
// server handed out is `validation_failed` before any query (never a 503, never a wrong page).
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { EVENTS_PAGE, OWN_EVENTS, listEvents, listOwnEvents } from "../../../../src/core/events/list.js";
import { recordEvent } from "../../../../src/core/events/record.js";
import type { EventQuery } from "../../../../src/core/events/types.js";
import type { Principal } from "../../../../src/core/types.js";
import { rejectsWith } from "../../../support/account-core.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

const BASE = Date.parse("2030-01-01T00:00:00.000Z");
let world: SqliteCore;
beforeEach(async () => {
  world = await sqliteCore({ clock: () => BASE });
});
afterEach(() => world.close());

/** `count` rows written straight to the table, one millisecond apart (n = 0 oldest); their ids. */
async function seed(count: number, over: { userId?: string; type?: string; prefix?: string; detail?: (n: number) => string } = {}) {
  const prefix = over.prefix ?? "e";
  const rows = Array.from({ length: count }, (_, n) => ({
    id: `${prefix}-${String(n).padStart(3, "0")}`,
    type: over.type ?? "logout",
    user_id: over.userId ?? "u1",
    session_id: null,
    actor: "self",
    ip: null,
    user_agent: null,
    at: new Date(BASE + n).toISOString(),
    detail: over.detail?.(n) ?? JSON.stringify({ n }),
  }));
  if (count > 0) await world.store.db.insertInto("tokenver_events").values(rows).execute();
  return rows.map((r) => r.id);
}

const principal = (userId: string) => ({ userId, sessionId: "s1", tokenVersion: 0 }) as unknown as Principal;
const cursorOf = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value), "utf8").toString("base64url");

/** Refused as a bad `field`, with exactly this message. */
async function refused(query: EventQuery, field: string, message: string) {
  const error = await rejectsWith(listEvents(world.core, query), "validation_failed");
  assert.deepEqual(error.errors, [{ field, message }], JSON.stringify(query));
}
const BAD_CURSOR = "must be a next_cursor from an earlier page";

describe("listOwnEvents", () => {
  test("the caller's own only, the last 50, newest first, every field mapped", async () => {
    await seed(60, { userId: "u1" });
    await seed(5, { userId: "u2", prefix: "other" });
    const events = await listOwnEvents(world.core, principal("u1"));
    assert.equal(OWN_EVENTS, 50);
    assert.equal(events.length, 50);
    assert.ok(events.every((e) => e.userId === "u1"));
    assert.deepEqual(
      events.slice(0, 2).map((e) => e.detail.n),
      [59, 58],
    );
    assert.equal(events.at(-1)!.detail.n, 10);
    assert.deepEqual(events[0], {
      id: "e-059",
      type: "logout",
      userId: "u1",
      sessionId: null,
      actor: "self",
      ip: null,
      userAgent: null,
      at: new Date(BASE + 59).toISOString(),
      detail: { n: 59 },
    });
  });

  test("what the caller's requests just recorded is listed (the recorder's queue is written first)", async () => {
    recordEvent(world.core, {
      type: "logout",
      userId: "u1",
      sessionId: "s9",
      actor: "self",
      client: { ip: "203.0.113.7", userAgent: "a browser" },
      detail: { scope: "session" },
    });
    const events = await listOwnEvents(world.core, principal("u1"));
    assert.equal(events.length, 1, "recorded, not yet flushed, and still listed");
    assert.deepEqual(
      { ...events[0], id: undefined },
      {
        id: undefined,
        type: "logout",
        userId: "u1",
        sessionId: "s9",
        actor: "self",
        ip: "203.0.113.7",
        userAgent: "a browser",
        at: new Date(BASE).toISOString(),
        detail: { scope: "session" },
      },
    );
  });

  test("a stored detail that is not a JSON object lists as {}", async () => {
    const details = ["null", "[1,2]", "5", '"text"', "not json", '{"ok":true}'];
    await seed(details.length, { detail: (n) => details[n]! });
    const events = await listOwnEvents(world.core, principal("u1"));
    assert.deepEqual(
      events.map((e) => e.detail),
      [{ ok: true }, {}, {}, {}, {}, {}],
    );
  });
});

describe("listEvents", () => {
  test("pages of 50 by cursor: every event once, in order, and no cursor after the last page", async () => {
    const ids = await seed(2 * EVENTS_PAGE + 1);
    const first = await listEvents(world.core);
    assert.equal(first.events.length, 50);
    assert.equal(first.events[0]!.id, ids.at(-1));
    assert.notEqual(first.nextCursor, null);
    const second = await listEvents(world.core, { cursor: first.nextCursor });
    assert.equal(second.events[0]!.id, ids.at(-51), "the second page starts right after the first");
    const third = await listEvents(world.core, { cursor: second.nextCursor });
    assert.deepEqual(
      third.events.map((e) => e.id),
      [ids[0]],
    );
    assert.equal(third.nextCursor, null);
    const all = [...first.events, ...second.events, ...third.events].map((e) => e.id);
    assert.deepEqual(all, [...ids].reverse());
  });

  test("exactly 50 events: one page and no cursor", async () => {
    await seed(EVENTS_PAGE);
    const page = await listEvents(world.core, {});
    assert.equal(page.events.length, 50);
    assert.equal(page.nextCursor, null);
  });

  test("the cursor is after (at, id): events of one instant are split by id, never repeated", async () => {
    // 51 events of one millisecond: the page ends inside the instant.
    const rows = Array.from({ length: 51 }, (_, n) => ({
      id: `same-${String(n).padStart(3, "0")}`,
      type: "logout",
      user_id: "u1",
      session_id: null,
      actor: "self",
      ip: null,
      user_agent: null,
      at: new Date(BASE).toISOString(),
      detail: "{}",
    }));
    await world.store.db.insertInto("tokenver_events").values(rows).execute();
    const first = await listEvents(world.core);
    const second = await listEvents(world.core, { cursor: first.nextCursor });
    assert.deepEqual(
      second.events.map((e) => e.id),
      ["same-000"],
    );
    assert.equal(JSON.parse(Buffer.from(first.nextCursor!, "base64url").toString("utf8"))[1], "same-001");
  });

  test("filters by user, by type, by both; an empty or null filter is none", async () => {
    await seed(3, { userId: "u1", type: "logout", prefix: "a" });
    await seed(2, { userId: "u1", type: "login.failed", prefix: "b" });
    await seed(4, { userId: "u2", type: "logout", prefix: "c" });
    const ids = async (query: EventQuery) => (await listEvents(world.core, query)).events.map((e) => e.id).sort();
    assert.deepEqual(await ids({ userId: "u1" }), ["a-000", "a-001", "a-002", "b-000", "b-001"]);
    assert.deepEqual(await ids({ type: "logout" }), ["a-000", "a-001", "a-002", "c-000", "c-001", "c-002", "c-003"]);
    assert.deepEqual(await ids({ userId: "u1", type: "login.failed" }), ["b-000", "b-001"]);
    assert.equal((await ids({ userId: "", type: null } as unknown as EventQuery)).length, 9);
    assert.equal((await ids({ cursor: null })).length, 9);
  });

  test("the cursor keeps to the same filter's order: the next page of one user's events", async () => {
    await seed(60, { userId: "u1", prefix: "a" });
    await seed(60, { userId: "u2", prefix: "b" });
    const first = await listEvents(world.core, { userId: "u2" });
    const second = await listEvents(world.core, { userId: "u2", cursor: first.nextCursor });
    assert.equal(second.events.length, 10);
    assert.ok(second.events.every((e) => e.userId === "u2"));
    assert.equal(second.nextCursor, null);
  });

  test("a filter that is not a string of at most 64 characters, or holds NUL, is refused", async () => {
    const long = `must be a string of at most 64 characters`;
    await refused({ userId: 7 } as unknown as EventQuery, "user_id", long);
    await refused({ type: "x".repeat(65) }, "type", long);
    await refused({ userId: "u\u00001" }, "user_id", "must not hold U+0000 (NUL)");
    await refused({ type: "log\u0000out" }, "type", "must not hold U+0000 (NUL)");
    await seed(1, { type: "t".repeat(64) });
    assert.equal((await listEvents(world.core, { type: "t".repeat(64) })).events.length, 1, "64 characters pass");
  });

  test("a cursor the server did not hand out is refused, never a query", async () => {
    const good = cursorOf([new Date(BASE).toISOString(), "e-001"]);
    assert.deepEqual((await listEvents(world.core, { cursor: good })).events, []);
    const longestId = cursorOf([new Date(BASE).toISOString(), "i".repeat(64)]);
    assert.deepEqual((await listEvents(world.core, { cursor: longestId })).events, [], "an id of 64 characters passes");
    for (const cursor of [
      "",
      7,
      `!${good}`, // Node's base64url decoder skips what it does not know: the pattern must not
      `${good}=`,
      good.replace(/[A-Za-z]/, "+"),
      cursorOf("not json"),
      cursorOf({ at: new Date(BASE).toISOString(), id: "e1" }),
      cursorOf({ 0: new Date(BASE).toISOString(), 1: "e1", length: 2 }), // array-like, not an array
      cursorOf([new Date(BASE).toISOString()]),
      cursorOf([new Date(BASE).toISOString(), "e1", "x"]),
      cursorOf(["2030-02-30T00:00:00.000Z", "e1"]),
      cursorOf([BASE, "e1"]),
      cursorOf([new Date(BASE).toISOString(), ""]),
      cursorOf([new Date(BASE).toISOString(), 1]),
      cursorOf([new Date(BASE).toISOString(), "i".repeat(65)]),
      cursorOf([new Date(BASE).toISOString(), "e\u00001"]),
    ]) {
      await refused({ cursor } as unknown as EventQuery, "cursor", BAD_CURSOR);
    }
  });

  test("a cursor of 256 characters passes, one of 258 is refused", async () => {
    // A well-formed key padded with JSON whitespace: 192 bytes are 256 base64url characters, 193 are 258.
    const key = JSON.stringify([new Date(BASE).toISOString(), "e1"]);
    const padded = (bytes: number) => cursorOf(key.slice(0, -1) + " ".repeat(bytes - key.length) + "]");
    assert.equal(padded(192).length, 256);
    assert.equal(padded(193).length, 258);
    assert.deepEqual((await listEvents(world.core, { cursor: padded(192) })).events, []);
    await refused({ cursor: padded(193) }, "cursor", BAD_CURSOR);
  });

  test("what was just recorded is listed (the recorder's queue is written first)", async () => {
    recordEvent(world.core, { type: "key.rotated", actor: "cli" });
    const page = await listEvents(world.core, { type: "key.rotated" });
    assert.equal(page.events.length, 1);
  });
});
