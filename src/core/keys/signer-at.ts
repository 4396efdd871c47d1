import { AuthError } from "../errors.js";
import type { SigningKeyRow } from "../../store/queries/signing-keys.js";

/**
 * The key that signs at `now`, of keys ordered oldest activation first: the last one activated by
 * then; on a clock behind every activation (a node whose clock lags the one that made the keys),
 * the oldest. The key ring's rule for its signer (on the node's clock); the commands use it on
 * the keys' clock once `laggingClock` has let them run.
 */
export function signerAt<K>(keys: readonly K[], activateAt: (key: K) => number, now: number): K | undefined {
  let chosen: K | undefined;
  for (const key of keys) if (activateAt(key) <= now) chosen = key;
  return chosen ?? keys[0];
}

/**
 * A command that changes the keys (rotate, revoke) decides which key signs and which waits on the
 * keys' clock (keys-context.ts: the database's), the clock every key was dated by. A key made
 * after that clock's `now` means the clock went back (a failover to a server whose clock lags, a
 * host clock set back), or another clock dated it, ahead (a pre-release build used each node's): the
 * command could then take the signer for a waiting key, delete it, or give a rotated-away key
 * back its place, so it is refused (`forbidden`, this error) rather than guess.
 */
export function laggingClock(rows: readonly SigningKeyRow[], now: number): AuthError | undefined {
  const ahead = rows.find((r) => Date.parse(r.created_at) > now);
  if (ahead === undefined) return undefined;
  return new AuthError(
    "forbidden",
    `the keys' clock (PostgreSQL's, or this host's on SQLite; ${new Date(now).toISOString()}) is behind the creation of key ${ahead.kid} (${ahead.created_at}): ` +
      "that clock was set back, or the key was dated on another clock, ahead; correct the clock (NTP), " +
      "or wait until that time (docs/keys.md, Clocks)",
  );
}
