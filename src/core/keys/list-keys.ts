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

/** `tokenver keys list`: every key that signs, will sign or still verifies. Nothing secret. */
export async function listKeys(keys: KeysContext): Promise<KeyInfo[]> {
  await keys.ring.reload();
  return keys.ring.keys().map((k) => ({
    kid: k.kid,
    alg: k.alg,
    state: keys.ring.stateOf(k),
    createdAt: k.createdAt,
    activateAt: isoAt(k.activateAt),
    retireAfter: k.retireAfter === undefined ? null : isoAt(k.retireAfter),
  }));
}
