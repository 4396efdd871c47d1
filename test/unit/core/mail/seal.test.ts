// Unit tests for src/core/mail/seal.ts: a queued mail's payload at rest, sealed with AES-256-GCM
// under the outbox key with the row id as associated data. It opens only with its key and its
// row's id, any change to it is refused, and the stored text shows nothing of the plaintext.
import assert from "node:assert/strict";
import { createDecipheriv } from "node:crypto";
import { describe, test } from "node:test";
import { open, seal } from "../../../../src/core/mail/seal.js";

const KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(32, 8);
const ID = "0193a1b2-c3d4-7000-8000-0123456789ab";
const SECRET_TEXT = JSON.stringify({ to: "ada@example.com", text: "Open https://x.example/reset#token=abcDEF123_- — ünïcödé ✓" });

describe("seal and open", () => {
  test("what is sealed opens to the same text, multi-byte characters included", () => {
    assert.equal(open(KEY, ID, seal(KEY, ID, SECRET_TEXT)), SECRET_TEXT);
    assert.equal(open(KEY, "", seal(KEY, "", "x")), "x");
  });

  test("the sealed form: base64url of a 12-byte nonce, the 16-byte GCM tag and the ciphertext, readable with the key and the id as AAD", () => {
    const sealed = seal(KEY, ID, SECRET_TEXT);
    assert.match(sealed, /^[A-Za-z0-9_-]+$/);
    const raw = Buffer.from(sealed, "base64url");
    assert.equal(raw.length, 12 + 16 + Buffer.byteLength(SECRET_TEXT));
    const decipher = createDecipheriv("aes-256-gcm", KEY, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(ID, "utf8"));
    decipher.setAuthTag(raw.subarray(12, 28));
    assert.equal(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8"), SECRET_TEXT);
  });

  test("nothing of the plaintext shows at rest, and each seal has its own nonce", () => {
    const a = seal(KEY, ID, SECRET_TEXT);
    const b = seal(KEY, ID, SECRET_TEXT);
    assert.notEqual(a, b);
    assert.notDeepEqual(Buffer.from(a, "base64url").subarray(0, 12), Buffer.from(b, "base64url").subarray(0, 12));
    for (const s of [a, Buffer.from(a, "base64url").toString("latin1"), Buffer.from(a, "base64url").toString("utf8")]) {
      for (const part of ["ada@example.com", "abcDEF123", "token="]) assert.ok(!s.includes(part), part);
    }
  });

  test("another key, or another row's id, does not open it", () => {
    const sealed = seal(KEY, ID, SECRET_TEXT);
    assert.throws(() => open(OTHER_KEY, ID, sealed));
    assert.throws(() => open(KEY, "0193a1b2-c3d4-7000-8000-0123456789ac", sealed));
    assert.throws(() => open(KEY, "", sealed));
  });

  test("any changed byte (nonce, tag or ciphertext) is refused", () => {
    const raw = Buffer.from(seal(KEY, ID, SECRET_TEXT), "base64url");
    for (const at of [0, 11, 12, 27, 28, raw.length - 1]) {
      const changed = Buffer.from(raw);
      changed[at] = changed[at]! ^ 1;
      assert.throws(() => open(KEY, ID, changed.toString("base64url")), `byte ${at}`);
    }
    assert.throws(() => open(KEY, ID, raw.subarray(0, raw.length - 1).toString("base64url")), "cut short");
  });

  test("an empty text seals to 28 bytes and opens; anything shorter is refused before decryption", () => {
    const empty = seal(KEY, ID, "");
    assert.equal(Buffer.from(empty, "base64url").length, 28);
    assert.equal(open(KEY, ID, empty), "");
    for (const n of [0, 1, 27]) {
      const short = Buffer.from(empty, "base64url").subarray(0, n).toString("base64url");
      assert.throws(() => open(KEY, ID, short), { message: "sealed payload too short" }, `${n} bytes`);
    }
  });
});
