// Unit tests for src/core/recovery/link.ts, the tokens of mailed links (docs/api.md section 8):
// 256 random bits, only their SHA-256 stored, one user, one purpose, the address and token version
// of when they were made; a newer link of a purpose supersedes the older; anything that cannot be
// one of our tokens is `link_invalid` before any lookup. issueLink writes into an in-memory SQLite
// table of the links' columns (the one INSERT and the superseding DELETE).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import SQLite from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import type { Core } from "../../../../src/core/context.js";
import { AuthError } from "../../../../src/core/errors.js";
import { hashLinkToken, issueLink, LINK_PATHS, linkInvalid, linkMatches, linkTokenHash } from "../../../../src/core/recovery/link.js";

const NOW = Date.UTC(2026, 11, 1, 6, 0, 0);
const core = { config: { clock: () => NOW, publicUrl: "https://auth.example.test" } } as unknown as Core;
const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

function database() {
  const sqlite = new SQLite(":memory:");
  sqlite.exec(`CREATE TABLE tokenver_links (token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, purpose TEXT NOT NULL,
    email TEXT NOT NULL, new_email TEXT, token_version INTEGER NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL)`);
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
  const rows = () => sqlite.prepare("SELECT * FROM tokenver_links ORDER BY created_at, purpose").all() as Array<Record<string, unknown>>;
  return { db, rows };
}

const tokenOf = (url: string) => new URL(url).hash.replace(/^#token=/, "");

describe("issueLink", () => {
  test("the URL is the public URL, the purpose's page and #token=; only the token's SHA-256 is stored", async () => {
    const { db, rows } = database();
    const url = await issueLink(core, db, { userId: "u1", purpose: "reset", email: "a@example.test", tokenVersion: 3, ttl: 3600 });
    assert.match(url, /^https:\/\/auth\.example\.test\/account\/reset#token=[A-Za-z0-9_-]{43}$/);
    const token = tokenOf(url);
    assert.equal(Buffer.from(token, "base64url").length, 32, "256 random bits");
    assert.deepEqual(rows(), [
      {
        token_hash: sha256(token),
        user_id: "u1",
        purpose: "reset",
        email: "a@example.test",
        new_email: null,
        token_version: 3,
        created_at: new Date(NOW).toISOString(),
        expires_at: new Date(NOW + 3600 * 1000).toISOString(),
      },
    ]);
    await db.destroy();
  });

  test("each purpose has its page; an address change carries the new address", async () => {
    assert.deepEqual(LINK_PATHS, {
      reset: "/account/reset",
      verify: "/account/verify",
      email_change: "/account/verify",
      email_cancel: "/account/cancel-email",
    });
    const { db, rows } = database();
    const url = await issueLink(core, db, {
      userId: "u1",
      purpose: "email_change",
      email: "old@example.test",
      newEmail: "new@example.test",
      tokenVersion: 0,
      ttl: 60,
    });
    assert.ok(url.startsWith("https://auth.example.test/account/verify#token="));
    assert.equal(rows()[0]!.new_email, "new@example.test");
    const cancel = await issueLink(core, db, {
      userId: "u1",
      purpose: "email_cancel",
      email: "old@example.test",
      tokenVersion: 0,
      ttl: 60,
    });
    assert.ok(cancel.startsWith("https://auth.example.test/account/cancel-email#token="));
    await db.destroy();
  });

  test("every link gets its own token", async () => {
    const { db } = database();
    const urls = new Set<string>();
    for (let i = 0; i < 20; i++) {
      urls.add(await issueLink(core, db, { userId: `u${i}`, purpose: "verify", email: "a@example.test", tokenVersion: 0, ttl: 60 }));
    }
    assert.equal(urls.size, 20);
    await db.destroy();
  });

  test("a new link supersedes the user's earlier links of its own purpose, not others' nor other purposes", async () => {
    const { db, rows } = database();
    const link = (userId: string, purpose: "reset" | "verify") => ({ userId, purpose, email: "a@example.test", tokenVersion: 0, ttl: 60 });
    const first = tokenOf(await issueLink(core, db, link("u1", "reset")));
    await issueLink(core, db, link("u1", "verify"));
    await issueLink(core, db, link("u2", "reset"));
    const second = tokenOf(await issueLink(core, db, link("u1", "reset")));
    const hashes = rows().map((r) => r.token_hash);
    assert.ok(!hashes.includes(sha256(first)), "the first reset link of u1 is gone");
    assert.ok(hashes.includes(sha256(second)));
    assert.equal(rows().length, 3, "u1's verify link and u2's reset link stay");
    await db.destroy();
  });

  test("`supersedes` names the purposes that die instead", async () => {
    const { db, rows } = database();
    const base = { userId: "u1", email: "a@example.test", tokenVersion: 0, ttl: 60 };
    await issueLink(core, db, { ...base, purpose: "email_change", newEmail: "b@example.test" });
    await issueLink(core, db, { ...base, purpose: "email_cancel" });
    await issueLink(core, db, {
      ...base,
      purpose: "email_change",
      newEmail: "c@example.test",
      supersedes: ["email_change", "email_cancel"],
    });
    assert.deepEqual(
      rows().map((r) => [r.purpose, r.new_email]),
      [["email_change", "c@example.test"]],
    );
    await issueLink(core, db, { ...base, purpose: "verify", supersedes: [] });
    await issueLink(core, db, { ...base, purpose: "verify", supersedes: [] });
    assert.equal(rows().filter((r) => r.purpose === "verify").length, 2, "an empty list supersedes nothing");
    await db.destroy();
  });
});

describe("linkTokenHash", () => {
  test("a token of 43 base64url characters: its SHA-256, hex", () => {
    const token = "A".repeat(42) + "_";
    assert.equal(linkTokenHash(token), sha256(token));
    assert.equal(hashLinkToken(token), sha256(token));
  });

  test("anything else is link_invalid (400) before any lookup", () => {
    for (const bad of [
      undefined,
      null,
      42,
      "",
      "A".repeat(42),
      "A".repeat(44),
      `${"A".repeat(42)}=`,
      `${"A".repeat(42)}+`,
      ` ${"A".repeat(43)}`,
      `${"A".repeat(43)}\n`,
    ]) {
      assert.throws(
        () => linkTokenHash(bad),
        (error: unknown) => error instanceof AuthError && error.code === "link_invalid" && error.status === 400,
        JSON.stringify(bad),
      );
    }
  });

  test("link_invalid says the link is unknown, used, superseded or expired, whichever it was", () => {
    const error = linkInvalid();
    assert.equal(error.code, "link_invalid");
    assert.equal(error.message, "The link is unknown, used, superseded or expired.");
  });
});

describe("linkMatches", () => {
  const row = { email: "a@example.test", token_version: 2 } as Parameters<typeof linkMatches>[0];

  test("the account as it was when the link was made", () => {
    assert.equal(linkMatches(row, { email: "a@example.test", token_version: 2 }), true);
  });

  test("no account, another address or another token version: the link no longer holds", () => {
    assert.equal(linkMatches(row, undefined), false);
    assert.equal(linkMatches(row, { email: "b@example.test", token_version: 2 }), false);
    assert.equal(linkMatches(row, { email: "a@example.test", token_version: 3 }), false);
    assert.equal(linkMatches(row, { email: "a@example.test", token_version: 1 }), false);
  });
});
