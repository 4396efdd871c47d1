import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * Outbox payloads sealed with AES-256-GCM (a 96-bit random nonce; the row id as associated data,
 * so a payload cannot be moved to another row): a queued mail holds a link, which is a credential
 * until used, and nothing secret rests in the database in the clear.
 */
export function seal(key: Buffer, id: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(id, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
}

/** The plaintext, or a throw when the payload is not this key's seal for this id. */
export function open(key: Buffer, id: string, sealed: string): string {
  const raw = Buffer.from(sealed, "base64url");
  if (raw.length < 28) throw new Error("sealed payload too short");
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(id, "utf8"));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
}
