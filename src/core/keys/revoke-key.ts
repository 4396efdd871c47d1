import { deleteKeyRow, listKeyRows, recordRevokedKey, setActivateAt, withKeysLock } from "../../store/queries/signing-keys.js";
import { isoAt } from "../clock.js";
import { AuthError } from "../errors.js";
import { addKey, type KeysContext } from "./keys-context.js";
import { generateKeyMaterial } from "./material.js";
import { laggingClock, signerAt } from "./signer-at.js";

/**
 * `tokenver keys revoke <kid>`: the key goes at once; tokens it signed are `token_invalid` on every
 * node (clients refresh). Revoking the signer: a waiting next key signs at once, or a new key of
 * TOKENVER_SIGNING_ALG is made and signs at once. The kid is remembered: the key never comes back.
 * Returns the kid that signs afterwards. Every decision is taken on the keys' clock (the
 * database's); refused (`forbidden`) when it went back behind a key's creation (signer-at.ts).
 */
export async function revokeKey(keys: KeysContext, kid: string): Promise<{ signer: string }> {
  const spare = await generateKeyMaterial(keys.alg);
  const signer = await withKeysLock(keys.db, async (trx) => {
    const now = await keys.now(trx);
    const rows = await listKeyRows(trx);
    const target = rows.find((r) => r.kid === kid);
    if (target === undefined) throw new AuthError("not_found", `no signing key with the id ${JSON.stringify(kid)}`);
    const lagging = laggingClock(rows, now);
    if (lagging !== undefined) throw lagging;
    const rest = rows.filter((r) => r.kid !== kid);
    const signing = (list: typeof rows) => signerAt(list, (r) => Date.parse(r.activate_at), now);
    await deleteKeyRow(trx, kid);
    // Remembered, so that no start-up, command or rotation adds it again (TOKENVER_SIGNING_KEY
    // still naming it stops them instead: core/keys/ensure-keys.ts).
    await recordRevokedKey(trx, kid, isoAt(now));
    if (signing(rows)?.kid === kid) {
      const waiting = rest.find((r) => Date.parse(r.activate_at) > now);
      if (waiting !== undefined) {
        await setActivateAt(trx, waiting.kid, isoAt(now));
        return waiting.kid;
      }
      await addKey(trx, keys, spare, now, now);
      return spare.kid;
    }
    // A key that waited (revoked before it signed): the key before it signs on until the key after
    // it activates, so it retires then (the token lifetime, the leeway and 10 s later), or never
    // when none follows. Left as it was, it would retire while no other key signs.
    const index = rows.indexOf(target);
    const before = rows[index - 1];
    if (Date.parse(target.activate_at) > now && before !== undefined) {
      const after = rows[index + 1];
      const retireAfter = after === undefined ? null : isoAt(Date.parse(after.activate_at) + keys.retireMs);
      await trx.updateTable("tokenver_signing_keys").set({ retire_after: retireAfter }).where("kid", "=", before.kid).execute();
    }
    return signing(rest)?.kid ?? "";
  });
  // Gone here at once and never reinstalled by a read that began before the commit.
  await keys.ring.revoked(kid);
  await keys.announce();
  // Exact across nodes: returns once every caching node has dropped the key (or lost its lease).
  await keys.broadcastRevoked(kid);
  return { signer };
}
