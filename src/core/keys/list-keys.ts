import { listKeyRows } from "../../store/queries/signing-keys.js";
import type { KeysContext } from "./keys-context.js";
import type { KeyState } from "./key-ring.js";
import { signerAt } from "./signer-at.js";

export type { KeyState };

export interface KeyInfo {
  kid: string;
  alg: string;
  state: KeyState;
  createdAt: string;
  /** When it signs (or began to). */
  activateAt: string;
  /** When it stops verifying; null while it is the signer. */
  retireAfter: string | null;
}

/**
 * `tokenver keys list`: every key that signs, will sign or still verifies. Nothing secret. From
 * the stored rows on the keys' clock, the one `rotate` and `revoke` decide on, whatever this
 * host's clock says (the ring drops keys retired by its own clock). Reloads this node's keys too.
 */
export async function listKeys(keys: KeysContext): Promise<KeyInfo[]> {
  await keys.ring.reload();
  const now = await keys.now(keys.db);
  const rows = (await listKeyRows(keys.db)).filter(
    // The ring's rule: an HS256 key without private half is some TOKENVER_SECRET's; only ours counts.
    (r) => (r.retire_after === null || Date.parse(r.retire_after) > now) && (r.private_key !== null || r.kid === keys.secretKid),
  );
  const signer = signerAt(rows, (r) => Date.parse(r.activate_at), now);
  return rows.map((r) => ({
    kid: r.kid,
    alg: r.alg,
    state: Date.parse(r.activate_at) > now ? "next" : r === signer ? "current" : "retiring",
    createdAt: r.created_at,
    activateAt: r.activate_at,
    retireAfter: r.retire_after,
  }));
}
