// Unit tests for src/core/passwords/form.ts: passwords are hashed and checked in their NFKC form
// (docs/api.md section 3), each hash records its form, and a hash made before the rule (the bare
// argon2 PHC string of the password as sent) is checked against the normalised input, then the
// input as sent, and marked for rewriting.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { hashNewPassword, normalizePassword, upgradePasswordHash, verifyWithForms } from "../../../../src/core/passwords/form.js";
import { hashPassword } from "../../../../src/core/passwords/hashing.js";

const ASCII = "correct horse battery";
const FULL_WIDTH = "ｃｏｒｒｅｃｔ ｈｏｒｓｅ ｂａｔｔｅｒｙ";
const NFC = "caf\u00e9 au lait, s'il vous pla\u00eet";
const NFD = NFC.normalize("NFD");

describe("normalizePassword", () => {
  test("NFKC: full-width is ASCII, NFD is NFC, ligatures and compatibility forms fold", () => {
    assert.equal(normalizePassword(FULL_WIDTH), ASCII);
    assert.equal(normalizePassword(NFD), NFC);
    assert.notEqual(NFD, NFC);
    assert.equal(normalizePassword("ﬁne ½"), "fine 1⁄2");
    assert.equal(normalizePassword(ASCII), ASCII);
  });
});

describe("hashNewPassword and verifyWithForms", () => {
  test("a new hash records its form: `nfkc` before argon2's PHC string", async () => {
    const stored = await hashNewPassword(ASCII);
    assert.match(stored, /^nfkc\$argon2id\$v=19\$/);
    assert.ok(stored.length <= 256, "fits the column");
  });

  test("a new hash matches every form of its password, and nothing else; never asks for a rewrite", async () => {
    const stored = await hashNewPassword(FULL_WIDTH);
    assert.deepEqual(await verifyWithForms(stored, ASCII), { ok: true });
    assert.deepEqual(await verifyWithForms(stored, FULL_WIDTH), { ok: true });
    assert.deepEqual(await verifyWithForms(stored, `${ASCII}!`), { ok: false });
    const nfd = await hashNewPassword(NFD);
    assert.deepEqual(await verifyWithForms(nfd, NFC), { ok: true });
  });

  test("the hash is of the normalised form: the same as hashing the normalised password", async () => {
    const stored = await hashNewPassword(NFD);
    const { verify } = await import("@node-rs/argon2");
    assert.equal(await verify(stored.slice("nfkc".length), NFC), true);
    assert.equal(await verify(stored.slice("nfkc".length), NFD), false);
  });

  test("a hash from before the rule matches the input as sent, and asks for a rewrite", async () => {
    // Made from the full-width password as it was typed, before NFKC.
    const legacy = await hashPassword(FULL_WIDTH);
    assert.deepEqual(await verifyWithForms(legacy, FULL_WIDTH), { ok: true, rehash: true });
    // Its normalised twin never matched this hash, and does not now.
    assert.deepEqual(await verifyWithForms(legacy, ASCII), { ok: false });
  });

  test("a hash from before the rule of an already normalised password matches any form of it", async () => {
    const legacy = await hashPassword(ASCII);
    assert.deepEqual(await verifyWithForms(legacy, ASCII), { ok: true, rehash: true });
    assert.deepEqual(await verifyWithForms(legacy, FULL_WIDTH), { ok: true, rehash: true });
    assert.deepEqual(await verifyWithForms(legacy, "wrong password"), { ok: false });
  });

  test("an unknown account burns the dummy hash and is never ok; a malformed hash is never ok", async () => {
    assert.deepEqual(await verifyWithForms(undefined, ASCII), { ok: false });
    assert.deepEqual(await verifyWithForms("nfkc$not-a-hash", ASCII), { ok: false });
    assert.deepEqual(await verifyWithForms("", ASCII), { ok: false });
    assert.deepEqual(await verifyWithForms("nfkc", ASCII), { ok: false });
  });
});

describe("upgradePasswordHash", () => {
  /** A database of one users row, enough for the one conditional UPDATE. */
  async function database(passwordHash: string) {
    const { Kysely, SqliteDialect } = await import("kysely");
    const { default: SQLite } = await import("better-sqlite3");
    const sqlite = new SQLite(":memory:");
    sqlite.exec("CREATE TABLE users (id TEXT PRIMARY KEY, password_hash TEXT NOT NULL)");
    sqlite.prepare("INSERT INTO users VALUES ('u1', ?)").run(passwordHash);
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
    const stored = () =>
      (sqlite.prepare("SELECT password_hash FROM users WHERE id = 'u1'").get() as { password_hash: string }).password_hash;
    return { db, stored };
  }
  const run = <T>(work: () => Promise<T>) => work();

  test("rewrites a legacy hash in the new form, which then matches without asking again", async () => {
    const legacy = await hashPassword(FULL_WIDTH);
    const { db, stored } = await database(legacy);
    await upgradePasswordHash(db, run, { id: "u1", password_hash: legacy }, FULL_WIDTH);
    assert.match(stored(), /^nfkc\$argon2id\$/);
    assert.deepEqual(await verifyWithForms(stored(), ASCII), { ok: true });
    await db.destroy();
  });

  test("only if the stored hash is still the one that was checked", async () => {
    const legacy = await hashPassword(ASCII);
    const changed = await hashNewPassword("a password changed meanwhile");
    const { db, stored } = await database(changed);
    await upgradePasswordHash(db, run, { id: "u1", password_hash: legacy }, ASCII);
    assert.equal(stored(), changed);
    await db.destroy();
  });

  test("a failure leaves the old hash in place and is not thrown", async () => {
    const legacy = await hashPassword(ASCII);
    const { db, stored } = await database(legacy);
    const full = () => Promise.reject(new Error("queue full"));
    await upgradePasswordHash(db, full, { id: "u1", password_hash: legacy }, ASCII);
    assert.equal(stored(), legacy);
    await db.destroy();
  });
});
