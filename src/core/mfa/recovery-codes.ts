import { createHmac, randomInt, randomUUID } from "node:crypto";
import type { Core } from "../context.js";

/**
 * Recovery codes: 10 per set, each 10 base32 characters (50 random bits), shown once. Only an
 * HMAC-SHA-256 (a key derived for this purpose, the user's id bound in) rests in the database.
 */
export const RECOVERY_CODE_COUNT = 10;
export const RECOVERY_CODE_LENGTH = 10;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const KEY_LABEL = "tokenver recovery codes v1";
const FORMAT = /^[A-Z2-7]{10}$/;

export interface RecoveryCodeSet {
  /** To show the user, once. */
  codes: string[];
  /** To store. */
  rows: Array<{ id: string; hash: string }>;
}

export function newRecoveryCodes(core: Core, userId: string): RecoveryCodeSet {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () =>
    Array.from({ length: RECOVERY_CODE_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join(""),
  );
  return { codes, rows: codes.map((code) => ({ id: randomUUID(), hash: recoveryCodeHash(core, userId, code) })) };
}

/** The code as stored: upper case, spaces and hyphens dropped; undefined when it cannot be a recovery code. */
export function normaliseRecoveryCode(input: string): string | undefined {
  const code = input.replace(/[\s-]/g, "").toUpperCase();
  return FORMAT.test(code) ? code : undefined;
}

export function recoveryCodeHash(core: Core, userId: string, code: string): string {
  return createHmac("sha256", core.deriveKey(KEY_LABEL)).update(`${userId}:${code}`).digest("hex");
}
