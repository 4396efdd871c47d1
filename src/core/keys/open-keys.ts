import type { Kysely } from "kysely";
import { deriveKey } from "../../lib/derive-key.js";
import type { Database } from "../../store/schema.js";
import type { Clock } from "../clock.js";
import { ensureKeys } from "./ensure-keys.js";
import { secretKidOf } from "../tokens/access-token.js";
import { KeyRing, WRAPPING_KEY_LABEL } from "./key-ring.js";
import type { KeysClock, KeysContext } from "./keys-context.js";
import { importConfiguredKey, type SigningAlg } from "./material.js";

export interface KeySettings {
  signingAlg: SigningAlg;
  signingKey: string | undefined;
  keyPublishDelay: number;
  keyRotation: number;
  accessTtl: number;
  clockTolerance: number;
  clock: Clock;
  /** The keys' clock (keys-context.ts `keysClockOf`). */
  keysClock: KeysClock;
  onWarning: (message: string) => void;
}

/**
 * At start-up (createAuth): checks TOKENVER_SIGNING_KEY (throws `SigningKeyError`), makes sure a
 * key signs (ensure-keys.ts) and loads the keys. The wrapping key and the secret's kid are derived
 * from the server secret (HKDF, one label each), as `core.deriveKey(label)` would.
 */
export async function openKeys(
  db: Kysely<Database>,
  secret: string,
  settings: KeySettings,
): Promise<{ keys: KeysContext; started: { kid: string; reason: string } | undefined }> {
  const configured = settings.signingKey === undefined ? undefined : await importConfiguredKey(settings.signingKey, settings.signingAlg);
  const wrappingKey = deriveKey(secret, WRAPPING_KEY_LABEL);
  const secretKid = secretKidOf(secret);
  const ring = new KeyRing({
    db,
    secret,
    wrappingKey,
    secretKid,
    clock: settings.clock,
    onWarning: settings.onWarning,
  });
  const keys: KeysContext = {
    db,
    ring,
    wrappingKey,
    secretKid,
    now: settings.keysClock,
    alg: settings.signingAlg,
    configured,
    publishDelayMs: settings.keyPublishDelay * 1000,
    rotationMs: settings.keyRotation * 86_400_000,
    retireMs: (settings.accessTtl + settings.clockTolerance + 10) * 1000,
    announce: async () => {},
    broadcastRevoked: async () => {},
  };
  const started = await ensureKeys(keys);
  await ring.reload();
  return { keys, started };
}
