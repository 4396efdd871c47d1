/**
 * The key that signs at `now`, of keys ordered oldest activation first: the last one activated by
 * then; on a clock behind every activation (a node whose clock lags the one that made the keys),
 * the oldest. One rule for the key ring's signer and for the commands that change the keys, so a
 * command run on a lagging clock never takes the signer for a key still waiting.
 */
export function signerAt<K>(keys: readonly K[], activateAt: (key: K) => number, now: number): K | undefined {
  let chosen: K | undefined;
  for (const key of keys) if (activateAt(key) <= now) chosen = key;
  return chosen ?? keys[0];
}
