import { AuthError } from "../errors.js";
import type { SigningKeyRow } from "../../store/queries/signing-keys.js";

/**
 * The key that signs at `now`, of keys ordered oldest activation first: the last one activated by
 * then; on a clock behind every activation (a node whose clock lags the one that made the keys),
 * the oldest. The key ring's rule for its signer; the commands use it once `laggingClock`
 * has let them run.
 */
export function signerAt<K>(keys: readonly K[], activateAt: (key: K) => number, now: number): K | undefined {
  let chosen: K | undefined;
  for (const key of keys) if (activateAt(key) <= now) chosen = key;
  return chosen ?? keys[0];
}

/**
 * A command that changes the keys (rotate, revoke) decides which key signs and which waits with
 * its own clock. On a clock behind the node that made a key it can take the signer for a key still
 * waiting, and delete it, or give a rotated-away key back its place. A key made after this clock's
 * `now` shows such a lag: the command is refused (`forbidden`, this error) rather than guess.
 * Not closed by it (docs/keys.md, "Clocks"): a lag shorter than the time since the newest key was
 * made, and a key dated ahead by a node whose clock was ahead (commands refused until then).
 */
export function laggingClock(rows: readonly SigningKeyRow[], now: number): AuthError | undefined {
  const ahead = rows.find((r) => Date.parse(r.created_at) > now);
  if (ahead === undefined) return undefined;
  return new AuthError(
    "forbidden",
    `this process's clock (${new Date(now).toISOString()}) is behind the creation of key ${ahead.kid} (${ahead.created_at}): ` +
      "this clock lags, or the node that made the key had a clock ahead; correct the clock that is wrong (NTP), " +
      "or run the command where the clock is right",
  );
}
