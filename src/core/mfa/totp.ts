import { timingSafeEqual } from "node:crypto";
import { generateSecret, generateSync, generateURI } from "otplib";
import type { Core } from "../context.js";
import { open, seal } from "../mail/seal.js";

/**
 * RFC 6238 as authenticator apps expect it: HMAC-SHA-1, 6 digits, 30-second steps, a 160-bit
 * secret shown in base32. otplib computes the codes (as HOTP of the time step, so the step that
 * matched is known exactly for replay protection); the secret rests sealed with AES-256-GCM under
 * a key derived for this purpose only, with the user's id as associated data.
 */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
export const TOTP_SECRET_BYTES = 20;
export const TOTP_CODE = /^[0-9]{6}$/;
const SECRET_KEY_LABEL = "tokenver totp secret v1";

/** A new 160-bit secret, base32 (32 characters). */
export function newTotpSecret(): string {
  return generateSecret({ length: TOTP_SECRET_BYTES });
}

export function sealTotpSecret(core: Core, userId: string, secret: string): string {
  return seal(core.deriveKey(SECRET_KEY_LABEL), `totp:${userId}`, secret);
}

/** The base32 secret; throws when the seal is not this server's (another secret): the caller fails closed. */
export function openTotpSecret(core: Core, userId: string, sealed: string): string {
  return open(core.deriveKey(SECRET_KEY_LABEL), `totp:${userId}`, sealed);
}

/** The RFC 6238 time step T of an instant (T0 = 0). */
export function timeStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS);
}

/** The code of one time step. */
export function totpCode(secret: string, step: number): string {
  return generateSync({ strategy: "hotp", secret, counter: step, digits: TOTP_DIGITS, algorithm: "sha1" });
}

/**
 * The time step in {T-1, T, T+1} whose code is `code` and which is later than `lastStep`, if any.
 * Every candidate is computed and compared in constant time, whatever matched first.
 */
export function matchingStep(secret: string, code: string, nowMs: number, lastStep: number | null): number | undefined {
  const now = timeStep(nowMs);
  const given = Buffer.from(code.padEnd(TOTP_DIGITS, "\0").slice(0, TOTP_DIGITS), "utf8");
  let found: number | undefined;
  for (const step of [now - 1, now, now + 1]) {
    const expected = Buffer.from(totpCode(secret, step), "utf8");
    const equal = given.length === expected.length && timingSafeEqual(given, expected);
    if (equal && found === undefined && (lastStep === null || step > Number(lastStep))) found = step;
  }
  return found;
}

/** The otpauth:// URL an authenticator app scans (Key Uri Format). */
export function otpauthUrl(issuer: string, account: string, secret: string): string {
  return generateURI({ issuer, label: account, secret, algorithm: "sha1", digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS });
}
