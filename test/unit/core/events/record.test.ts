// Unit tests for src/core/events/record.ts: a security event as stored. No key that names a secret
// (password, token, hash, cookie, code...) reaches the row, fields are bounded, the id is a UUIDv7
// that sorts in recording order, and recordEvent never throws into the flow that records.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Core } from "../../../../src/core/context.js";
import { eventId, eventRow, recordEvent } from "../../../../src/core/events/record.js";
import type { EventInput } from "../../../../src/core/events/types.js";

const NOW = Date.UTC(2026, 11, 1, 6, 30, 0, 123);
const input = (over: Partial<EventInput> = {}): EventInput =>
  ({ type: "login.succeeded", userId: "u1", actor: "self", ...over }) as EventInput;
const detailOf = (detail: unknown) => JSON.parse(eventRow(input({ detail } as Partial<EventInput>), NOW).detail);

describe("eventRow", () => {
  test("the row: type, user, session, actor, client, instant, detail", () => {
    const row = eventRow(
      input({ sessionId: "s1", client: { ip: "203.0.113.9", userAgent: "Firefox" }, detail: { scope: "all" } } as Partial<EventInput>),
      NOW,
    );
    assert.deepEqual(
      { ...row, id: undefined },
      {
        id: undefined,
        type: "login.succeeded",
        user_id: "u1",
        session_id: "s1",
        actor: "self",
        ip: "203.0.113.9",
        user_agent: "Firefox",
        at: new Date(NOW).toISOString(),
        detail: JSON.stringify({ scope: "all" }),
      },
    );
  });

  test("missing user, session and client are null; an empty client field is null", () => {
    const row = eventRow({ type: "key.rotated", actor: "cli", client: { ip: "", userAgent: "" } } as EventInput, NOW);
    assert.equal(row.user_id, null);
    assert.equal(row.session_id, null);
    assert.equal(row.ip, null);
    assert.equal(row.user_agent, null);
    assert.equal(row.detail, "{}");
  });

  test("the address is cut to 64 characters, the user agent to 512", () => {
    const row = eventRow(input({ client: { ip: "i".repeat(100), userAgent: "a".repeat(1000) } } as Partial<EventInput>), NOW);
    assert.equal(row.ip, "i".repeat(64));
    assert.equal(row.user_agent, "a".repeat(512));
  });

  test("a malformed type or actor is refused (the caller's bug)", () => {
    for (const type of ["", "Login", "login.", ".login", "login..x", "login-x", "1login", `a${"b".repeat(64)}`, 7]) {
      assert.throws(() => eventRow(input({ type } as Partial<EventInput>), NOW), TypeError, JSON.stringify(type));
    }
    assert.equal(eventRow(input({ type: `a${"b".repeat(63)}` } as Partial<EventInput>), NOW).type.length, 64, "64 characters pass");
    assert.equal(eventRow(input({ type: "a_b.c_d.e" } as unknown as Partial<EventInput>), NOW).type, "a_b.c_d.e");
    for (const actor of ["", "x".repeat(65), 3, undefined]) {
      assert.throws(() => eventRow(input({ actor } as Partial<EventInput>), NOW), TypeError, JSON.stringify(actor));
    }
    assert.equal(eventRow(input({ actor: "x".repeat(64) } as Partial<EventInput>), NOW).actor.length, 64);
  });
});

describe("the detail: no secrets, bounded", () => {
  test("keys that name a secret are dropped, whatever their case; token_version is kept", () => {
    const names = ["password", "new_password", "PASSWORD", "secret", "clientSecret", "token", "refresh_token", "accessToken", "hash"];
    const more = ["password_hash", "cookie", "Authorization", "otp", "code", "recoveryCode", "mfa_token"];
    const detail: Record<string, string> = {};
    for (const name of [...names, ...more].slice(0, 15)) detail[name] = "hunter2";
    detail.token_version = "3";
    assert.deepEqual(detailOf(detail), { token_version: "3" });
    for (const name of more) assert.deepEqual(detailOf({ [name]: "hunter2", scope: "all" }), { scope: "all" }, name);
  });

  test("strings are cut to 200 characters; null, booleans and finite numbers kept; the rest dropped", () => {
    assert.deepEqual(detailOf({ s: "x".repeat(300), n: null, t: true, f: false, i: 42, z: 0 }), {
      s: "x".repeat(200),
      n: null,
      t: true,
      f: false,
      i: 42,
      z: 0,
    });
    assert.deepEqual(detailOf({ inf: Infinity, nan: Number.NaN, o: { a: 1 }, a: [1], u: undefined, fn: () => 1 }), {});
  });

  test("at most the first 16 entries", () => {
    const detail = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]));
    assert.deepEqual(
      Object.keys(detailOf(detail)),
      Array.from({ length: 16 }, (_, i) => `k${i}`),
    );
  });

  test("a detail that is not an object is an empty one", () => {
    for (const detail of [undefined, null, "text", 5]) assert.deepEqual(detailOf(detail), {});
  });
});

describe("eventId", () => {
  test("a UUIDv7: the millisecond in the first 48 bits, version 7, the RFC 9562 variant", () => {
    const id = eventId(NOW);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(parseInt(id.replace(/-/g, "").slice(0, 12), 16), NOW);
  });

  test("ids of one millisecond count up, and sort in recording order", () => {
    const ms = NOW + 1000;
    const ids = Array.from({ length: 50 }, () => eventId(ms));
    assert.deepEqual([...ids].sort(), ids);
    const counters = ids.map((id) => parseInt(id.slice(15, 18), 16));
    assert.deepEqual(
      counters,
      Array.from({ length: 50 }, (_, i) => i),
    );
    const next = eventId(ms + 1);
    assert.equal(next.slice(14, 18), "7000", "a new millisecond starts the counter again");
    assert.ok(next > ids.at(-1)!);
  });

  test("a negative instant is 0", () => {
    assert.ok(eventId(-5).startsWith("00000000-0000-7"));
  });
});

describe("recordEvent", () => {
  test("queues the row; a malformed event is counted as rejected, never thrown", () => {
    const rows: unknown[] = [];
    let rejected = 0;
    const core = {
      config: { clock: () => NOW },
      events: { record: (row: unknown) => rows.push(row), reject: () => rejected++, flush: async () => {} },
    } as unknown as Core;
    recordEvent(core, input());
    assert.equal(rows.length, 1);
    assert.equal((rows[0] as { at: string }).at, new Date(NOW).toISOString());
    recordEvent(core, input({ type: "Not A Type" } as unknown as Partial<EventInput>));
    assert.equal(rows.length, 1);
    assert.equal(rejected, 1);
    // A type that is not a string, even one whose text would pass the pattern.
    recordEvent(core, input({ type: ["login.succeeded"] } as unknown as Partial<EventInput>));
    assert.equal(rows.length, 1);
    assert.equal(rejected, 2);
  });
});
