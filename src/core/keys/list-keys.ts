import { isoAt } from "../clock.js";
import type { KeysContext } from "./keys-context.js";
import type { KeyState } from "./key-ring.js";

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
 * `tokenver keys list`: every key that signs, will sign or still verifies. Nothing secret. States
 * on the keys' clock, the one `rotate` and `revoke` decide on, whatever this host's clock says.
 */
export async function listKeys(keys: KeysContext): Promise<KeyInfo[]> {
  await keys.ring.reload();
  const now = await keys.now(keys.db);
  return keys.ring.keys(now).map((k) => ({
    kid: k.kid,
    alg: k.alg,
    state: keys.ring.stateOf(k, now),
    createdAt: k.createdAt,
    activateAt: isoAt(k.activateAt),
    retireAfter: k.retireAfter === undefined ? null : isoAt(k.retireAfter),
  }));
}
