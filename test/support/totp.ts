import { createHmac } from "node:crypto";

/**
 * RFC 6238 TOTP (HMAC-SHA-1), written for the tests from the RFC and independent of otplib, so a
 * code the server accepts was computed by a second implementation. Checked against the RFC's own
 * SHA-1 test vectors in test/mfa/totp-vectors.test.ts.
 */
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 (no padding needed) to bytes. */
export function base32Decode(text: string): Buffer {
  const clean = text.replace(/=+$/, "").toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of clean) {
    const index = ALPHABET.indexOf(char);
    if (index === -1) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 4226 HOTP: dynamic truncation of HMAC-SHA-1 over the 8-byte big-endian counter. */
export function hotp(key: Buffer, counter: number, digits = 6): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac("sha1", key).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(binary % 10 ** digits).padStart(digits, "0");
}

/** RFC 6238 time step of a Unix time in seconds (T0 = 0, X = 30). */
export function stepAt(seconds: number, period = 30): number {
  return Math.floor(seconds / period);
}

/** The TOTP code of a base32 secret at a Unix time in milliseconds, optionally `offset` steps away. */
export function totpAt(secretBase32: string, ms: number, offset = 0, digits = 6): string {
  return hotp(base32Decode(secretBase32), stepAt(Math.floor(ms / 1000)) + offset, digits);
}
