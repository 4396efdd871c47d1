import type { Kysely, Transaction } from "kysely";
import type { Database } from "../../store/schema.js";
import { insertKeyRow, retireOpenKeys } from "../../store/queries/signing-keys.js";
import { seal } from "../mail/seal.js";
import { isoAt, type Clock } from "../clock.js";
import type { KeyRing } from "./key-ring.js";
import type { NewKeyMaterial, SigningAlg } from "./material.js";

/** What the key operations (ensure, rotate, revoke, list) work with; built once by createAuth(). */
export interface KeysContext {
  readonly db: Kysely<Database>;
  readonly ring: KeyRing;
  readonly wrappingKey: Buffer;
  readonly secretKid: string;
  readonly clock: Clock;
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
   * see the commit before their next answer (watchSqlite).
   */
  broadcastRevoked: (kid: string) => Promise<void>;
}

/** Adds a key that signs from `activateAt`; every key without a retirement date retires once its last token expired. */
export async function addKey(trx: Transaction<Database>, keys: KeysContext, material: NewKeyMaterial, activateAt: number): Promise<void> {
  await retireOpenKeys(trx, isoAt(activateAt + keys.retireMs), material.kid);
  await insertKeyRow(trx, {
    kid: material.kid,
    alg: material.alg,
    private_key: seal(keys.wrappingKey, material.kid, material.secretText),
    public_jwk: material.publicJwk === null ? null : JSON.stringify(material.publicJwk),
    created_at: isoAt(keys.clock()),
    activate_at: isoAt(activateAt),
    retire_after: null,
  });
}
