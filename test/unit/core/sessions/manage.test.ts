// Unit tests for src/core/sessions/manage.ts and issue.ts: the session-list cursor (only a cursor
// this server gave is accepted), the page limit, the re-check of a signed-in user's password
// (counted per session; the 5th failure revokes the session through the revocation protocol),
// and a session's amr as stored and as a token claim. Over a hand-made core: a real Throttle on
// memory counters, a revoker that records what it was asked to revoke.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Core } from "../../../../src/core/context.js";
import { AuthError } from "../../../../src/core/errors.js";
import { formatAmr, parseAmr, tokenPair } from "../../../../src/core/sessions/issue.js";
import { decodeCursor, encodeCursor, listSessions, recheckPassword } from "../../../../src/core/sessions/manage.js";
import { RECHECK_FAILURES, Throttle } from "../../../../src/core/throttle.js";
import { DEFAULT_AMR } from "../../../../src/core/tokens/access-token.js";
import type { Principal } from "../../../../src/core/types.js";
import { MemoryCounterStore } from "../../../../src/store/counters/counter-store.js";
import type { RevocationChange } from "../../../../src/store/revocation/state.js";

const PRINCIPAL: Principal = { userId: "user-1", sessionId: "session-1", tokenVersion: 0, claims: {} as Principal["claims"] };

function fakeCore() {
  const revoked: RevocationChange[] = [];
  const events: Array<Record<string, unknown>> = [];
  const counters = new MemoryCounterStore(() => 1_700_000_000_000);
  const core = {
    config: { clock: () => 1_700_000_000_000, accessTtl: 900 },
    throttle: new Throttle(counters, { accountFailures: 5, addressFailures: 5, windowSeconds: 60, registrations: 5, addressLogins: 5 }),
    revoker: {
      revoke: async (intent: RevocationChange) => {
        revoked.push(intent);
        return intent;
      },
    },
    events: {
      record: (row: Record<string, unknown>) => events.push(row),
      reject: () => assert.fail("an event was rejected"),
      flush: async () => {},
    },
    sign: (userId: string, sessionId: string, version: number, amr?: readonly string[]) =>
      `signed:${userId}:${sessionId}:${version}:${amr?.join(",")}`,
  } as unknown as Core;
  return { core, revoked, events, counters };
}

async function rejectsWith(promise: Promise<unknown>, code: string, check: (error: AuthError) => void = () => {}) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AuthError, String(error));
    assert.equal(error.code, code);
    check(error);
    return true;
  });
}

describe("recheckPassword", () => {
  test("a right password answers true and gives its count back: the session keeps all 5 tries", async () => {
    const { core, revoked } = fakeCore();
    for (let i = 0; i < 10; i++) assert.equal(await recheckPassword(core, PRINCIPAL, async () => true), true);
    for (let i = 1; i < RECHECK_FAILURES; i++)
      assert.equal(await recheckPassword(core, PRINCIPAL, async () => false), false, `failure ${i}`);
    assert.deepEqual(revoked, []);
  });

  test("the 5th wrong password revokes the session (through the revoker) and answers token_revoked", async () => {
    const { core, revoked, events } = fakeCore();
    for (let i = 1; i < RECHECK_FAILURES; i++) assert.equal(await recheckPassword(core, PRINCIPAL, async () => false), false);
    assert.deepEqual(revoked, []);
    await rejectsWith(
      recheckPassword(core, PRINCIPAL, async () => false),
      "token_revoked",
      (error) => {
        assert.equal(error.message, "The session was revoked after repeated wrong passwords.");
        assert.equal(error.status, 401);
        assert.equal(error.tokenPresented, true);
      },
    );
    assert.deepEqual(revoked, [{ userId: "user-1", sessionIds: ["session-1"] }]);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type, "session.revoked");
    assert.equal(events[0]!.actor, "system");
    assert.equal(events[0]!.user_id, "user-1");
    assert.equal(events[0]!.session_id, "session-1");
    assert.deepEqual(JSON.parse(events[0]!.detail as string), { reason: "password_guessing" });
  });

  test("once the allowance is spent, the password is not even checked: the session is revoked", async () => {
    const { core, revoked } = fakeCore();
    for (let i = 1; i <= RECHECK_FAILURES; i++) await recheckPassword(core, PRINCIPAL, async () => false).catch(() => {});
    revoked.length = 0;
    let checked = false;
    await rejectsWith(
      recheckPassword(core, PRINCIPAL, async () => {
        checked = true;
        return true;
      }),
      "token_revoked",
    );
    assert.equal(checked, false);
    assert.deepEqual(revoked, [{ userId: "user-1", sessionIds: ["session-1"] }]);
  });

  test("a check that throws is no failure: the error passes through and the count is given back", async () => {
    const { core, revoked } = fakeCore();
    const broken = new Error("hash queue full");
    for (let i = 0; i < 10; i++)
      await assert.rejects(
        recheckPassword(core, PRINCIPAL, () => Promise.reject(broken)),
        (e) => e === broken,
      );
    for (let i = 1; i < RECHECK_FAILURES; i++) assert.equal(await recheckPassword(core, PRINCIPAL, async () => false), false);
    assert.deepEqual(revoked, []);
  });

  test("counted per session: another session of the same user has its own allowance", async () => {
    const { core, revoked } = fakeCore();
    for (let i = 1; i < RECHECK_FAILURES; i++) await recheckPassword(core, PRINCIPAL, async () => false);
    const other = { ...PRINCIPAL, sessionId: "session-2" };
    for (let i = 1; i < RECHECK_FAILURES; i++) assert.equal(await recheckPassword(core, other, async () => false), false);
    assert.deepEqual(revoked, []);
  });
});

describe("listSessions: the page limit", () => {
  test("1 to 100, an integer; anything else is validation_failed on `limit`, before the store is asked", async () => {
    const { core } = fakeCore();
    for (const limit of [0, -1, 101, 1.5, Number.NaN, Infinity, "10"]) {
      await rejectsWith(listSessions(core, PRINCIPAL, { limit: limit as number }), "validation_failed", (error) => {
        assert.deepEqual(error.errors, [{ field: "limit", message: "must be an integer from 1 to 100" }], String(limit));
      });
    }
  });

  test("null options (a JavaScript caller) are the defaults: past the checks, to the store", async () => {
    const { core } = fakeCore();
    // The fake core has no database: reaching the store is a 503, not a TypeError on null.
    await rejectsWith(listSessions(core, PRINCIPAL, null as never), "service_unavailable");
  });

  test("a cursor that is not one of ours is validation_failed on `cursor`, before the store is asked", async () => {
    const { core } = fakeCore();
    await rejectsWith(listSessions(core, PRINCIPAL, { cursor: "not a cursor" }), "validation_failed", (error) => {
      assert.deepEqual(error.errors, [{ field: "cursor", message: "must be a next_cursor from an earlier page" }]);
    });
  });
});

describe("session-list cursors", () => {
  const KEY = { created_at: "2026-11-30T10:11:12.345Z", id: "0b9c1f0e-5c43-4a3d-9d57-6f1f1ad7a2e1" };
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64url");

  test("a cursor round-trips, and is base64url of [created_at, id]", () => {
    const cursor = encodeCursor(KEY);
    assert.match(cursor, /^[A-Za-z0-9_-]+$/);
    assert.equal(cursor, encode([KEY.created_at, KEY.id]));
    assert.deepEqual(decodeCursor(cursor), KEY);
  });

  /** A well-formed cursor of exactly `length` characters: an id of "€" (3 bytes each) and "a", at most 64 characters. */
  function cursorOfLength(length: number): { cursor: string; id: string } {
    for (let euros = 0; euros <= 64; euros++) {
      for (let ascii = 0; euros + ascii <= 64; ascii++) {
        const id = "€".repeat(euros) + "a".repeat(ascii);
        const cursor = encode([KEY.created_at, id]);
        if (cursor.length === length) return { cursor, id };
      }
    }
    assert.fail(`no cursor of ${length} characters`);
  }

  test("the longest id (64 characters) and the longest cursor (256 characters) are accepted", () => {
    const id = "i".repeat(64);
    assert.deepEqual(decodeCursor(encodeCursor({ created_at: KEY.created_at, id })), { created_at: KEY.created_at, id });
    const { cursor, id: wide } = cursorOfLength(256);
    assert.deepEqual(decodeCursor(cursor), { created_at: KEY.created_at, id: wide });
  });

  test("a cursor over 256 characters is refused by its length, even when it would decode to a valid key", () => {
    const { cursor, id } = cursorOfLength(258);
    assert.ok(id.length <= 64);
    assert.throws(() => decodeCursor(cursor), AuthError);
  });

  const bad: Record<string, unknown> = {
    "not a string": 42,
    empty: "",
    "over 256 characters": "A".repeat(257),
    "a character before a good cursor": `.${encode([KEY.created_at, KEY.id])}`,
    "a character after a good cursor": `${encode([KEY.created_at, KEY.id])}.`,
    "not JSON": Buffer.from("{nope", "utf8").toString("base64url"),
    "an object": encode({ created_at: KEY.created_at, id: KEY.id }),
    "one element": encode([KEY.created_at]),
    "three elements": encode([KEY.created_at, KEY.id, "x"]),
    "a numeric instant": encode([1_700_000_000_000, KEY.id]),
    "an instant without milliseconds": encode(["2026-11-30T10:11:12Z", KEY.id]),
    "text before the instant": encode([` ${KEY.created_at}`, KEY.id]),
    "text after the instant": encode([`${KEY.created_at} `, KEY.id]),
    "an instant that is not a date": encode(["2026-13-45T10:11:12.345Z", KEY.id]),
    "a numeric id": encode([KEY.created_at, 7]),
    "an empty id": encode([KEY.created_at, ""]),
    "an id over 64 characters": encode([KEY.created_at, "i".repeat(65)]),
  };
  for (const [what, cursor] of Object.entries(bad)) {
    test(`refused: ${what}`, () => {
      assert.throws(
        () => decodeCursor(cursor),
        (error: unknown) =>
          error instanceof AuthError &&
          error.code === "validation_failed" &&
          JSON.stringify(error.errors) === JSON.stringify([{ field: "cursor", message: "must be a next_cursor from an earlier page" }]),
      );
    });
  }
});

describe("a session's amr", () => {
  test("stored space-separated; read back as the claim", () => {
    assert.equal(formatAmr(["pwd", "otp", "mfa"]), "pwd otp mfa");
    assert.deepEqual(parseAmr("pwd otp mfa"), ["pwd", "otp", "mfa"]);
    assert.deepEqual(parseAmr("pwd  mfa "), ["pwd", "mfa"], "empty values dropped");
  });

  test("an empty or missing amr is pwd (sessions from before the second factor)", () => {
    for (const stored of [null, undefined, "", " ", "  "]) assert.deepEqual(parseAmr(stored), ["pwd"], JSON.stringify(stored));
    assert.equal(parseAmr(null), DEFAULT_AMR);
  });
});

describe("tokenPair", () => {
  test("an access token at the version with the session's amr, the refresh token, Bearer and the access ttl", () => {
    const { core } = fakeCore();
    assert.deepEqual(tokenPair(core, "user-1", "session-1", 4, "refresh.token", ["pwd", "mfa"]), {
      accessToken: "signed:user-1:session-1:4:pwd,mfa",
      refreshToken: "refresh.token",
      tokenType: "Bearer",
      expiresIn: 900,
    });
    assert.equal(tokenPair(core, "u", "s", 0, "r").accessToken, "signed:u:s:0:pwd");
  });
});
