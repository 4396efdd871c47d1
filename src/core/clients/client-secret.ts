import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Core } from "../context.js";

/** The HKDF label of the key client secrets are hashed with. */
const CLIENT_SECRET_LABEL = "tokenver client secret v1";

/** 256 random bits, base64url (form-safe: no character needs encoding). */
export function newClientSecret(): string {
  return randomBytes(32).toString("base64url");
}

export function newClientId(): string {
  return `tvc_${randomBytes(12).toString("base64url")}`;
}

/** HMAC-SHA-256 of the secret under a key derived from the server secret: all that is stored. */
export function hashClientSecret(core: Core, secret: string): string {
  return createHmac("sha256", core.deriveKey(CLIENT_SECRET_LABEL)).update(secret, "utf8").digest("base64url");
}

/** Constant-time: both sides are hashes of one length. */
export function secretMatches(core: Core, secret: string, storedHash: string): boolean {
  const given = Buffer.from(hashClientSecret(core, secret), "utf8");
  const stored = Buffer.from(storedHash, "utf8");
  return given.length === stored.length && timingSafeEqual(given, stored);
}
