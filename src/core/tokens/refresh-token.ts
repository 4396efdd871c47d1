import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Refresh tokens are `id.secret` (Lucia's pattern): `id` finds the row, `secret` (256 random bits)
 * is stored only as its SHA-256 and compared in constant time. A JWT (three parts) never parses.
 */
export interface RefreshToken {
  id: string;
  token: string;
  hash: string;
}

export function generateRefreshToken(): RefreshToken {
  const id = randomBytes(16).toString("base64url");
  const secret = randomBytes(32).toString("base64url");
  return { id, token: `${id}.${secret}`, hash: hashSecret(secret) };
}

const FORMAT = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

export function parseRefreshToken(token: string): { id: string; secret: string } | undefined {
  const match = FORMAT.exec(token);
  return match ? { id: match[1]!, secret: match[2]! } : undefined;
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const actual = Buffer.from(hashSecret(secret), "hex");
  const expected = Buffer.from(storedHash, "hex");
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
