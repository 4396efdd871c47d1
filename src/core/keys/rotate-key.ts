import { deleteRetiredKeys, listKeyRows, withKeysLock, type SigningKeyRow } from "../../store/queries/signing-keys.js";
import { isoAt } from "../clock.js";
import { AuthError } from "../errors.js";
import { addKey, type KeysContext } from "./keys-context.js";
import { generateKeyMaterial, type SigningAlg } from "./material.js";
import { laggingClock, signerAt } from "./signer-at.js";

export interface RotatedKey {
  kid: string;
  alg: SigningAlg;
  /** When it signs (ISO 8601). */
  activateAt: string;
}

/**
 * `tokenver keys rotate [--now]`: a new key of TOKENVER_SIGNING_ALG, published at once (JWKS) and
 * signing after the publish delay, or at once with `now` (a compromised key: the keys that were
 * waiting to sign are dropped). Refused (`forbidden`) while a next key already waits, unless `now`,
 * and when the keys' clock (the database's) went back behind a key's creation (signer-at.ts).
 * `due`: only when the current key is older than TOKENVER_KEY_ROTATION (scheduled rotation).
 */
export async function rotateKey(keys: KeysContext, options: { now?: boolean; due?: boolean } = {}): Promise<RotatedKey | undefined> {
  // Every node asks every second: until it is due, the answer is one read, without making a key,
  // taking the lock (a new keys' version every node would reload) or telling the other nodes.
  if (options.due && !rotationDue(keys, await listKeyRows(keys.db), await keys.now(keys.db))) return undefined;
  const material = await generateKeyMaterial(keys.alg);
  const result = await withKeysLock(keys.db, async (trx) => {
    const now = await keys.now(trx);
    await deleteRetiredKeys(trx, isoAt(now));
    const rows = await listKeyRows(trx);
    const lagging = laggingClock(rows, now);
    // The scheduled rotation on a clock set back: not due until it has caught up.
    if (lagging !== undefined) {
      if (options.due) return undefined;
      throw lagging;
    }
    // Not the signer, even if every activation were after `now`.
    const signer = signerAt(rows, (r) => Date.parse(r.activate_at), now);
    const waiting = rows.filter((r) => r !== signer && Date.parse(r.activate_at) > now);
    // Again under the lock: another node may have rotated since.
    if (options.due && (waiting.length > 0 || !rotationDue(keys, rows, now))) return undefined;
    if (waiting.length > 0) {
      if (!options.now) {
        throw new AuthError(
          "forbidden",
          `a next key (${waiting[0]!.kid}) already waits to sign from ${waiting[0]!.activate_at}; use --now to replace it`,
        );
      }
      for (const row of waiting) await trx.deleteFrom("tokenver_signing_keys").where("kid", "=", row.kid).execute();
    }
    const activateAt = options.now ? now : now + keys.publishDelayMs;
    await addKey(trx, keys, material, activateAt, now);
    return { kid: material.kid, alg: material.alg, activateAt: isoAt(activateAt) };
  });
  if (result === undefined) return undefined;
  await keys.ring.reload();
  await keys.announce();
  return result;
}

/** The newest key has signed (or waited) for TOKENVER_KEY_ROTATION: a waiting key is newer than that. */
function rotationDue(keys: KeysContext, rows: readonly SigningKeyRow[], now: number): boolean {
  const newest = rows.reduce((a, r) => Math.max(a, Date.parse(r.activate_at)), 0);
  return newest + keys.rotationMs <= now;
}
