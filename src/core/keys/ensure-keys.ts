import { sql } from "kysely";
import { listKeyRows, withKeysLock, type SigningKeyRow } from "../../store/queries/signing-keys.js";
import { isoAt } from "../clock.js";
import { addKey, type KeysContext } from "./keys-context.js";
import { generateKeyMaterial, type NewKeyMaterial } from "./material.js";

type Plan = "none" | "first" | "rotate";

/**
 * At start-up: makes sure a key signs, under the keys' lock so that nodes starting at once end
 * with one key. First start: HS256 signs with the server secret (its kid derived from it); an
 * asymmetric algorithm gets its key (generated, or TOKENVER_SIGNING_KEY) at once, and the secret
 * keeps verifying the tokens issued before, until they expire. A changed algorithm or configured
 * key later is a rotation: the new key is published, and signs after the publish delay.
 * Returns what it did, for the `key.rotated` event.
 */
export async function ensureKeys(keys: KeysContext): Promise<{ kid: string; reason: string } | undefined> {
  const now = keys.clock();
  if (planOf(keys, await listKeyRows(keys.db), now) === "none") return undefined;
  // Generated outside the lock (RSA takes a moment); a node that loses the race throws it away.
  const material = keys.configured ?? (keys.alg === "HS256" ? undefined : await generateKeyMaterial(keys.alg));
  return withKeysLock(keys.db, async (trx) => {
    const plan = planOf(keys, await listKeyRows(trx), now);
    if (plan === "none") return undefined;
    if (plan === "first") {
      // The HS256 keys of other secrets stay: a node with another TOKENVER_SECRET (a mistake, or
      // one being replaced) must not take the keys of the others away; each ignores the others'.
      const hadSessions = (await sql<{ one: number }>`select 1 as one from sessions limit 1`.execute(trx)).rows.length > 0;
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
      if (material !== undefined) await addKey(trx, keys, material, now);
      return { kid: material?.kid ?? keys.secretKid, reason: "first" };
    }
    const next: NewKeyMaterial = material ?? (await generateKeyMaterial("HS256"));
    await addKey(trx, keys, next, now + keys.publishDelayMs);
    return { kid: next.kid, reason: keys.configured ? "configured_key" : "algorithm_changed" };
  });
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
