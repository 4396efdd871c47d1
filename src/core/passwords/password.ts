import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { Algorithm, hash, verify } from "@node-rs/argon2";
import type { FieldError } from "../errors.js";
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "../limits.js";

/** OWASP's argon2id parameters (m=19 MiB, t=2, p=1). Hashing runs on the libuv thread pool. */
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * At most this many argon2 runs at once (one core's worth is left to the event loop), so a storm
 * of logins queues instead of starving the verification of every other request.
 */
const ARGON2_CONCURRENCY = Math.max(1, availableParallelism() - 1);
let running = 0;
const waiting: Array<() => void> = [];

async function withArgon2Slot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= ARGON2_CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await work();
  } finally {
    // Hand the slot straight to the next waiter, or give it back.
    const next = waiting.shift();
    if (next !== undefined) next();
    else running--;
  }
}

export function hashPassword(password: string): Promise<string> {
  return withArgon2Slot(() => hash(password, ARGON2));
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await withArgon2Slot(() => verify(passwordHash, password));
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/** A hash of a random password, made once, that no login can match. */
function dummy(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString("base64url"));
  return dummyHash;
}

/**
 * Burns the same argon2 work as a real verification, for logins of unknown accounts, so that a
 * wrong email and a wrong password take about the same time.
 */
export async function verifyDummyPassword(password: string): Promise<false> {
  await verifyPassword(await dummy(), password);
  return false;
}

let commonPasswords: Set<string> | undefined;

async function loadCommonPasswords(): Promise<Set<string>> {
  if (commonPasswords === undefined) {
    // zxcvbn-ts ships ~49,000 of the commonest passwords with the package: no download at run time.
    const { dictionary } = await import("@zxcvbn-ts/language-common");
    commonPasswords = new Set(dictionary["passwords-common"].map((p) => p.toLowerCase()));
  }
  return commonPasswords;
}

/** Loads the common-password list ahead of the first registration. */
export async function preparePasswordPolicy(): Promise<void> {
  await loadCommonPasswords();
  await dummy();
}

/**
 * NIST SP 800-63B / OWASP ASVS: length in code points, no composition rules, refuse the commonest.
 * Returns the problems found (empty when the password is acceptable).
 */
export async function checkPasswordPolicy(password: string, field = "password"): Promise<FieldError[]> {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return [{ field, message: `must be at least ${PASSWORD_MIN_LENGTH} characters` }];
  if (length > PASSWORD_MAX_LENGTH) return [{ field, message: `must be at most ${PASSWORD_MAX_LENGTH} characters` }];
  const common = await loadCommonPasswords();
  if (common.has(password.toLowerCase()) || (length <= MAX_PATTERN_LENGTH && isTrivialPattern(password))) {
    return [{ field, message: "is too common; choose a less guessable password" }];
  }
  return [];
}

const REPEATED_UNIT = /^(.{1,4})\1+$/su;
/**
 * Repeats and runs are refused up to this length, where breach lists have them. A longer one is
 * no common password, and refusing it would refuse the passphrases people (and tests of the
 * 64- and 256-character limits) build by repetition: "a" x 64 passes as any 64 characters would.
 */
const MAX_PATTERN_LENGTH = 20;

/**
 * Repeats and runs ("88888888", "12341234", "abcdefgh", "987654321") head every breached-password
 * list; zxcvbn's list leaves them out because zxcvbn finds them by pattern, so we do too.
 */
function isTrivialPattern(password: string): boolean {
  if (REPEATED_UNIT.test(password.toLowerCase())) return true;
  // Runs are the keyboard's and the alphabet's: ASCII letters or digits only.
  if (!/^[a-z0-9]+$/i.test(password)) return false;
  const codes = [...password.toLowerCase()].map((c) => c.codePointAt(0)!);
  const step = codes[1]! - codes[0]!;
  if (step !== 1 && step !== -1) return false;
  return codes.every((code, i) => i === 0 || code - codes[i - 1]! === step);
}
