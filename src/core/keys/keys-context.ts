import type { Kysely, Transaction } from "kysely";
import type { Database } from "../../store/schema.js";
import type { Dialect } from "../../store/database.js";
import { databaseNow, insertKeyRow, retireOpenKeys } from "../../store/queries/signing-keys.js";
import { seal } from "../mail/seal.js";
import { isoAt, systemClock, type Clock } from "../clock.js";
import type { KeyRing } from "./key-ring.js";
import type { NewKeyMaterial, SigningAlg } from "./material.js";

/**
 * The clock of every decision about keys (which key signs, which waits, which retired, when a new
 * one activates) and of every date written on them: one clock for every node and command, so a
 * node whose own clock is off cannot take a waiting key for the signer (docs/keys.md, "Clocks").
 */
export type KeysClock = (db: Kysely<Database> | Transaction<Database>) => Promise<number>;

/**
 * PostgreSQL: the database's clock. SQLite: the process's, which every process on the file shares
 * (one host). An injected `clock` (tests) stands for every clock, the database's too.
 */
export function keysClockOf(dialect: Dialect, clock: Clock): KeysClock {
  if (dialect === "postgres" && clock === systemClock) return databaseNow;
  return async () => clock();
}

/** What the key operations (ensure, rotate, revoke, list) work with; built once by createAuth(). */
export interface KeysContext {
  readonly db: Kysely<Database>;
  readonly ring: KeyRing;
  readonly wrappingKey: Buffer;
  readonly secretKid: string;
  /** Every decision the key operations take, and the dates they write. */
  readonly now: KeysClock;
  /** TOKENVER_SIGNING_ALG. */
  readonly alg: SigningAlg;
  /** TOKENVER_SIGNING_KEY, checked. */
  readonly configured: NewKeyMaterial | undefined;
  /** TOKENVER_KEY_PUBLISH_DELAY, milliseconds. */
  readonly publishDelayMs: number;
  /** TOKENVER_KEY_ROTATION, milliseconds; 0: off. */
  readonly rotationMs: number;
  /**
   * From the moment a later key signs until an earlier one retires: the access-token lifetime,
   * the leeway, and the 10 s within which every node has switched.
   */
  readonly retireMs: number;
  /** Tells the other nodes at once that the keys changed (Redis, where configured); they poll anyway. */
  announce: () => Promise<void>;
  /**
   * Several nodes over Redis: has every caching node drop a revoked key, and resolves once each has
   * (or has lost its lease); throws when that cannot be known. Elsewhere a no-op: SQLite servers
   * see the commit at their next check outside a transaction (watchSqlite), or their next poll,
   * and the CLI waits `KEYS_SETTLE_MS` for that.
   */
  broadcastRevoked: (kid: string) => Promise<void>;
}

/**
 * Adds a key that signs from `activateAt`, made at `now` (the keys' clock); every key without a
 * retirement date retires once its last token expired.
 */
export async function addKey(
  trx: Transaction<Database>,
  keys: KeysContext,
  material: NewKeyMaterial,
  activateAt: number,
  now: number,
): Promise<void> {
  await retireOpenKeys(trx, isoAt(activateAt + keys.retireMs), material.kid);
  await insertKeyRow(trx, {
    kid: material.kid,
    alg: material.alg,
    private_key: seal(keys.wrappingKey, material.kid, material.secretText),
    public_jwk: material.publicJwk === null ? null : JSON.stringify(material.publicJwk),
    created_at: isoAt(now),
    activate_at: isoAt(activateAt),
    retire_after: null,
  });
}
