import { hkdfSync } from "node:crypto";

/**
 * A key for one purpose, derived from the server secret with HKDF-SHA-256 (RFC 5869). Each purpose
 * has its own `label` (the HKDF info), so a key never serves two purposes: the CSRF key, the
 * signing-key wrapping key and the TOTP encryption key are independent even though one secret
 * feeds them all, whatever the signing algorithm.
 */
export function deriveKey(secret: string, label: string, length = 32): Buffer {
  if (label.length === 0) throw new TypeError("deriveKey: a label is required");
  return Buffer.from(hkdfSync("sha256", Buffer.from(secret, "utf8"), Buffer.alloc(0), Buffer.from(label, "utf8"), length));
}
