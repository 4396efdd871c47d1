import { sql } from "kysely";
import type { Kysely, Transaction } from "kysely";
import type { Database } from "../../store/schema.js";
import { listKeyRows, revokedAt, withKeysLock, type SigningKeyRow } from "../../store/queries/signing-keys.js";
import { isoAt } from "../clock.js";
import { addKey, type KeysContext } from "./keys-context.js";
import { generateKeyMaterial, SigningKeyError, type NewKeyMaterial } from "./material.js";

type Plan = "none" | "first" | "rotate";

/**
 * At start-up: makes sure a key signs, under the keys' lock so that nodes starting at once end
 * with one key. First start: HS256 signs with the server secret (its kid derived from it); an
 * asymmetric algorithm gets its key (generated, or TOKENVER_SIGNING_KEY) at once, and the secret
 * keeps verifying the tokens issued before, until they expire. A changed algorithm or configured
 * key later is a rotation: the new key is published, and signs after the publish delay.
 * A TOKENVER_SIGNING_KEY that `tokenver keys revoke` revoked stops the start (and every command)
 * with a `SigningKeyError`: a compromised key is never added again. The server secret's HS256
 * key, once revoked, is not added again either (a generated HS256 key signs instead).
 * Returns what it did, for the `key.rotated` event.
 */
export async function ensureKeys(keys: KeysContext): Promise<{ kid: string; reason: string } | undefined> {
  await refuseRevokedConfigured(keys, keys.db);
  if (planOf(keys, await listKeyRows(keys.db), await keys.now(keys.db)) === "none") return undefined;
  // Generated outside the lock (RSA takes a moment); a node that loses the race throws it away.
  const material = keys.configured ?? (keys.alg === "HS256" ? undefined : await generateKeyMaterial(keys.alg));
  return withKeysLock(keys.db, async (trx) => {
    // Again under the lock: a revoke may have committed since.
    await refuseRevokedConfigured(keys, trx);
    const now = await keys.now(trx);
    const plan = planOf(keys, await listKeyRows(trx), now);
    if (plan === "none") return undefined;
    if (plan === "first") {
      // The HS256 keys of other secrets stay: a node with another TOKENVER_SECRET (a mistake, or
      // one being replaced) must not take the keys of the others away; each ignores the others'.
      const hadSessions = (await sql<{ one: number }>`select 1 as one from ${sql.table("sessions")} limit 1`.execute(trx)).rows.length > 0;
      if ((await revokedAt(trx, keys.secretKid)) !== undefined) {
        // The secret's own key was revoked: it never signs or verifies again.
        const signer = material ?? (await generateKeyMaterial("HS256"));
        await addKey(trx, keys, signer, now, now);
        return { kid: signer.kid, reason: "first" };
      }
      if (material === undefined || hadSessions) {
        // The secret is the HS256 key: with an asymmetric algorithm, only for the tokens issued before.
        const dates = {
          activate_at: isoAt(material === undefined ? now : 0),
          retire_after: material === undefined ? null : isoAt(now + keys.retireMs),
        };
        // Its row may be there, retired: it signs (or verifies) again.
        await trx
          .insertInto("tokenver_signing_keys")
          .values({ kid: keys.secretKid, alg: "HS256", private_key: null, public_jwk: null, created_at: isoAt(now), ...dates })
          .onConflict((oc) => oc.column("kid").doUpdateSet(dates))
          .execute();
      }
      if (material !== undefined) await addKey(trx, keys, material, now, now);
      return { kid: material?.kid ?? keys.secretKid, reason: "first" };
    }
    const next: NewKeyMaterial = material ?? (await generateKeyMaterial("HS256"));
    await addKey(trx, keys, next, now + keys.publishDelayMs, now);
    return { kid: next.kid, reason: keys.configured ? "configured_key" : "algorithm_changed" };
  });
}

async function refuseRevokedConfigured(keys: KeysContext, db: Kysely<Database> | Transaction<Database>): Promise<void> {
  if (keys.configured === undefined) return;
  const at = await revokedAt(db, keys.configured.kid);
  if (at === undefined) return;
  throw new SigningKeyError(
    `names the signing key ${keys.configured.kid}, which was revoked (tokenver keys revoke) at ${at}: ` +
      "clear TOKENVER_SIGNING_KEY (the key that replaced it signs) or set a new key; a revoked key is never used again",
  );
}

function planOf(keys: KeysContext, rows: SigningKeyRow[], now: number): Plan {
  const live = rows.filter(
    (r) => (r.retire_after === null || Date.parse(r.retire_after) > now) && (r.private_key !== null || r.kid === keys.secretKid),
  );
  if (live.length === 0) return "first";
  if (keys.configured !== undefined) return rows.some((r) => r.kid === keys.configured!.kid) ? "none" : "rotate";
  const newest = live.reduce((a, b) => (Date.parse(b.activate_at) >= Date.parse(a.activate_at) ? b : a));
  return newest.alg === keys.alg ? "none" : "rotate";
}
