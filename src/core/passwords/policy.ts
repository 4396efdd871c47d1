import type { FieldError } from "../errors.js";
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "../limits.js";
import { isWellFormed, NOT_WELL_FORMED } from "../validation.js";
import { normalizePassword } from "./form.js";

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
export async function loadPasswordPolicy(): Promise<void> {
  await loadCommonPasswords();
}

/**
 * NIST SP 800-63B / OWASP ASVS: length in code points, no composition rules, refuse the commonest.
 * Judged on the form that is hashed (form.ts): the NFKC normalisation, so the limits count its
 * code points. Refused first: text that is not well-formed (a lone surrogate would hash as
 * U+FFFD), and unassigned code points (RFC 8265 section 4.2: NFKC promises to stay the same
 * across Unicode versions only for assigned characters, so a password holding one could
 * normalise differently once a later Node assigns it, and stop matching its hash).
 * Returns the problems found (empty when the password is acceptable).
 */
export async function checkPasswordPolicy(password: string, field = "password"): Promise<FieldError[]> {
  if (!isWellFormed(password)) return [{ field, message: NOT_WELL_FORMED }];
  if (UNASSIGNED.test(password)) return [{ field, message: "must not contain unassigned Unicode code points" }];
  const normalized = normalizePassword(password);
  const length = [...normalized].length;
  if (length < PASSWORD_MIN_LENGTH) return [{ field, message: `must be at least ${PASSWORD_MIN_LENGTH} characters` }];
  if (length > PASSWORD_MAX_LENGTH) return [{ field, message: `must be at most ${PASSWORD_MAX_LENGTH} characters` }];
  const common = await loadCommonPasswords();
  if (common.has(normalized.toLowerCase()) || (length <= MAX_PATTERN_LENGTH && isTrivialPattern(normalized))) {
    return [{ field, message: "is too common; choose a less guessable password" }];
  }
  return [];
}

/** General_Category Cn: code points this Node's Unicode has not assigned (noncharacters too). */
const UNASSIGNED = /\p{Cn}/u;

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
