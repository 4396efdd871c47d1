// Unit tests for src/core/browser/csrf-token.ts (docs/api.md section 6, OWASP's signed
// double-submit cookie): a token is `nonce.HMAC(K_csrf, session id, epoch, nonce)`; it is accepted
// only for its own session at the session's current epoch; moving the epoch on retires every token
// handed out before; a revoked session answers token_revoked. Over a migrated in-memory SQLite
// store and a core whose deriveKey is a plain hash of the label (so the purpose label is checked).
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { advanceCsrfEpoch, checkCsrfToken, CSRF_KEY_LABEL, issueCsrfToken } from "../../../../src/core/browser/csrf-token.js";
import type { Core } from "../../../../src/core/context.js";
import { AuthError } from "../../../../src/core/errors.js";
import type { Principal } from "../../../../src/core/types.js";
import { openStore, type Store } from "../../../../src/store/database.js";
import { migrateToLatest } from "../../../../src/store/migrations/index.js";

const NOW = new Date().toISOString();
const derive = (label: string) => createHash("sha256").update(`server secret\n${label}`).digest();
const principal = (userId: string, sessionId: string): Principal => ({
  userId,
  sessionId,
  tokenVersion: 0,
  claims: {} as Principal["claims"],
});

let store: Store;
let core: Core;

before(async () => {
  store = await openStore("sqlite::memory:");
  await migrateToLatest(store.db);
  core = { db: store.db, deriveKey: derive } as unknown as Core;
  for (const user of ["u1", "u2"]) {
    await store.db
      .insertInto("users")
      .values({
        id: user,
        email: `${user}@example.test`,
        username: null,
        password_hash: "x",
        token_version: 0,
        profile: "{}",
        created_at: NOW,
        updated_at: NOW,
      })
      .execute();
  }
  const session = (id: string, userId: string, revokedAt: string | null = null) =>
    store.db
      .insertInto("sessions")
      .values({
        id,
        user_id: userId,
        token_version: 0,
        created_at: NOW,
        last_used_at: NOW,
        expires_at: NOW,
        revoked_at: revokedAt,
        user_agent: null,
        ip: null,
      })
      .execute();
  await session("s1", "u1");
  await session("s2", "u1");
  await session("s3", "u2");
  await session("gone", "u1", NOW);
});

after(async () => {
  await store.close();
});

async function refused(promise: Promise<unknown>, code: string, detail?: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AuthError, String(error));
    assert.equal(error.code, code);
    if (code === "csrf_failed") assert.equal(error.status, 403);
    if (detail !== undefined) assert.equal(error.message, detail);
    return true;
  });
}

const MISSING = "Send the X-CSRF-Token header with this session's CSRF token.";
const NOT_CURRENT = "The CSRF token is not this session's current one.";

describe("issue and check", () => {
  test("a token is nonce.mac, and is accepted for its session", async () => {
    const token = await issueCsrfToken(core, "u1", "s1");
    assert.match(token!, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    await checkCsrfToken(core, principal("u1", "s1"), token);
  });

  test("the mac is HMAC-SHA-256 under the CSRF key of `session\\nepoch\\nnonce`", async () => {
    assert.equal(CSRF_KEY_LABEL, "tokenver csrf v1");
    const token = (await issueCsrfToken(core, "u1", "s1"))!;
    const [nonce, mac] = token.split(".") as [string, string];
    const epoch = (await store.db.selectFrom("sessions").select("csrf_epoch").where("id", "=", "s1").executeTakeFirstOrThrow()).csrf_epoch;
    assert.equal(mac, createHmac("sha256", derive("tokenver csrf v1")).update(`s1\n${epoch}\n${nonce}`).digest("base64url"));
  });

  test("every token has its own nonce", async () => {
    const tokens = new Set<string | undefined>();
    for (let i = 0; i < 10; i++) tokens.add(await issueCsrfToken(core, "u1", "s1"));
    assert.equal(tokens.size, 10);
  });

  test("no token for a session that is not live, or not the user's", async () => {
    assert.equal(await issueCsrfToken(core, "u1", "gone"), undefined);
    assert.equal(await issueCsrfToken(core, "u2", "s1"), undefined);
    assert.equal(await issueCsrfToken(core, "u1", "unknown"), undefined);
  });
});

describe("refusals", () => {
  test("no token, or one of the wrong shape: csrf_failed, asking for the header", async () => {
    const good = (await issueCsrfToken(core, "u1", "s1"))!;
    const [nonce, mac] = good.split(".") as [string, string];
    for (const bad of [
      undefined,
      "",
      "nodot",
      `.${mac}`,
      `${nonce}.`,
      `${nonce}x.${mac}`,
      `${nonce.slice(1)}.${mac}`,
      `${nonce}.${mac}x`,
      `${nonce}.${mac.slice(1)}`,
      `${nonce}.${mac.slice(0, -1)}+`,
      ` ${good}`,
      `${good} `,
    ]) {
      await refused(checkCsrfToken(core, principal("u1", "s1"), bad), "csrf_failed", MISSING);
    }
  });

  test("another session's token, even of the same user, is not this session's", async () => {
    const other = (await issueCsrfToken(core, "u1", "s2"))!;
    await refused(checkCsrfToken(core, principal("u1", "s1"), other), "csrf_failed", NOT_CURRENT);
    await checkCsrfToken(core, principal("u1", "s2"), other);
  });

  test("a mac moved to another nonce does not verify", async () => {
    const [nonceA, macA] = (await issueCsrfToken(core, "u1", "s1"))!.split(".") as [string, string];
    const [nonceB] = (await issueCsrfToken(core, "u1", "s1"))!.split(".") as [string, string];
    assert.notEqual(nonceA, nonceB);
    await refused(checkCsrfToken(core, principal("u1", "s1"), `${nonceB}.${macA}`), "csrf_failed", NOT_CURRENT);
  });

  test("a mac made under another key (another label or server) does not verify", async () => {
    const nonce = "A".repeat(22);
    const epoch = 0;
    for (const key of [derive("tokenver refresh grace v1"), createHash("sha256").update("another secret\ntokenver csrf v1").digest()]) {
      const forged = createHmac("sha256", key).update(`s3\n${epoch}\n${nonce}`).digest("base64url");
      await refused(checkCsrfToken(core, principal("u2", "s3"), `${nonce}.${forged}`), "csrf_failed", NOT_CURRENT);
    }
  });

  test("a revoked session, or a session that is not the principal's user's: token_revoked", async () => {
    const token = "A".repeat(22) + "." + "B".repeat(43);
    await refused(checkCsrfToken(core, principal("u1", "gone"), token), "token_revoked", "The token has been revoked.");
    await refused(checkCsrfToken(core, principal("u2", "s1"), token), "token_revoked", "The token has been revoked.");
    await assert.rejects(
      checkCsrfToken(core, principal("u1", "gone"), token),
      (e: AuthError) => e.tokenPresented === true && e.status === 401,
    );
  });
});

describe("the epoch", () => {
  test("advancing it retires the session's earlier tokens, and only that session's", async () => {
    const before1 = (await issueCsrfToken(core, "u1", "s1"))!;
    const before2 = (await issueCsrfToken(core, "u1", "s2"))!;
    await advanceCsrfEpoch(store.db, "s1");
    await refused(checkCsrfToken(core, principal("u1", "s1"), before1), "csrf_failed", NOT_CURRENT);
    await checkCsrfToken(core, principal("u1", "s2"), before2);
    const after1 = (await issueCsrfToken(core, "u1", "s1"))!;
    await checkCsrfToken(core, principal("u1", "s1"), after1);
    await advanceCsrfEpoch(store.db, "s1");
    await refused(checkCsrfToken(core, principal("u1", "s1"), after1), "csrf_failed", NOT_CURRENT);
  });
});

describe("a store that does not answer", () => {
  test("issue and check fail closed: 503", async () => {
    const broken = {
      db: {
        selectFrom: () => {
          throw new Error("connection lost");
        },
      },
      deriveKey: derive,
    } as unknown as Core;
    await refused(issueCsrfToken(broken, "u1", "s1"), "service_unavailable");
    await refused(checkCsrfToken(broken, principal("u1", "s1"), "A".repeat(22) + "." + "B".repeat(43)), "service_unavailable");
  });
});
