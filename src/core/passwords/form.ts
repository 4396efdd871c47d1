import type { Kysely } from "kysely";
import * as users from "../../store/queries/users.js";
import type { Database } from "../../store/schema.js";
import { hashPassword, verifyDummyPassword, verifyPassword } from "./hashing.js";

/**
 * The form a password is hashed in (docs/api.md section 3): its NFKC normalisation (NIST SP
 * 800-63B 5.1.1.2), so `"ｐａｓｓ"` and `"pass"`, or `é` typed precomposed and decomposed, are one
 * password whatever keyboard or platform sent it. The policy (policy.ts) judges and counts this
 * form, and refuses the unassigned code points whose normalisation a later Unicode could change.
 */
export function normalizePassword(password: string): string {
  return password.normalize("NFKC");
}

/**
 * How a stored hash records its form: a hash of the NFKC form is `nfkc` followed by argon2's PHC
 * string (`nfkc$argon2id$v=19$...`); a hash made before the rule is the bare PHC string
 * (`$argon2id$...`) of the password as it was sent. A prefix rather than a column: the form and
 * the hash are one value, so no write can change one without the other (the upgrade below is a
 * single conditional UPDATE of one column), no migration has to touch every row, and a tokenver
 * from before the rule, handed a prefixed hash, fails the login (argon2 refuses the string) rather
 * than checking the wrong form. 4 characters fit the 256 of the column beside a ~100-character PHC.
 */
const NFKC_FORM = "nfkc";

/** The stored hash of a new password: its NFKC form, hashed, with the form recorded. */
export async function hashNewPassword(password: string): Promise<string> {
  return NFKC_FORM + (await hashPassword(normalizePassword(password)));
}

export interface PasswordCheck {
  ok: boolean;
  /** The password was right against a hash made before the NFKC rule: rewrite it (`upgradePasswordHash`). */
  rehash?: true;
}

/**
 * Checks `password` against a stored hash of either form; an unknown account (`stored`
 * undefined) burns the dummy hash instead and is never ok. A hash of the NFKC form is checked
 * against the normalised input; one made before the rule against the normalised input, then the
 * input as sent (the form it was made from), so no user of before the rule is locked out.
 * Argon2 work: run it through the request's hashing-queue ticket.
 */
export async function verifyWithForms(stored: string | undefined, password: string): Promise<PasswordCheck> {
  const normalized = normalizePassword(password);
  if (stored === undefined) return { ok: await verifyDummyPassword(normalized) };
  if (stored.startsWith(`${NFKC_FORM}$`)) return { ok: await verifyPassword(stored.slice(NFKC_FORM.length), normalized) };
  const ok = (await verifyPassword(stored, normalized)) || (normalized !== password && (await verifyPassword(stored, password)));
  return ok ? { ok, rehash: true } : { ok };
}

/**
 * Rewrites a hash made before the NFKC rule in the new form, after a successful sign-in with it:
 * one conditional UPDATE, only if the stored hash is still `legacyHash` (a password change that
 * landed meanwhile wins). Best effort: if the queue or the database cannot do it now, the old hash
 * still works and the next sign-in tries again. `run` is the request's hashing-queue ticket.
 * Answers the hash stored afterwards as far as this call knows (the new one, or `legacyHash`).
 */
export async function upgradePasswordHash(
  db: Kysely<Database>,
  run: <T>(work: () => Promise<T>) => Promise<T>,
  user: { id: string; password_hash: string },
  password: string,
): Promise<string> {
  try {
    const next = await run(() => hashNewPassword(password));
    if (await users.replacePasswordHash(db, user.id, user.password_hash, next)) return next;
  } catch {
    // Left as it is: it is checked in both forms until a later sign-in rewrites it.
  }
  return user.password_hash;
}
