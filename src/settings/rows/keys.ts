import type { SigningAlg } from "../../core/keys/material.js";
import type { Setting } from "../table.js";

/** The signing-key options of `createAuth()` (docs/api.md section 7; docs/keys.md). */
export interface KeysOptions {
  signingAlg?: SigningAlg;
  signingKey?: string;
  keyPublishDelay?: number;
  keyRotation?: number;
}

export interface ResolvedKeysOptions {
  signingAlg: SigningAlg;
  signingKey: string | undefined;
  keyPublishDelay: number;
  keyRotation: number;
}

/** Settings of signing keys (docs/api.md section 7). */
export const KEYS_SETTINGS = [
  {
    // Changing it on a running deployment is a rotation: the new key is published first.
    option: "signingAlg",
    env: "TOKENVER_SIGNING_ALG",
    // SIGNING_ALGS (core/keys/material.ts), spelled out so the settings load without jose; a test keeps them equal.
    kind: { type: "enum", values: ["HS256", "EdDSA", "ES256", "RS256"] },
    default: "HS256",
    doc: "the algorithm of access tokens: `HS256` (the secret), `EdDSA` (Ed25519), `ES256` (P-256) or `RS256` (>= 2048 bits); asymmetric keys are published at `/.well-known/jwks.json`",
  },
  {
    // Checked at start-up against signingAlg (key type, curve, RSA size and exponent).
    option: "signingKey",
    env: "TOKENVER_SIGNING_KEY",
    kind: { type: "string", nonEmpty: true },
    defaultText: "unset: generated on first start and kept in the database, encrypted",
    doc: "the private signing key of an asymmetric `TOKENVER_SIGNING_ALG`, as PEM (PKCS#8) or a JWK",
  },
  {
    option: "keyPublishDelay",
    env: "TOKENVER_KEY_PUBLISH_DELAY",
    kind: { type: "integer", min: 0, max: 604_800 },
    default: 600,
    doc: "seconds a rotated key is published in the JWKS before it signs (the JWKS max-age plus margin)",
  },
  {
    option: "keyRotation",
    env: "TOKENVER_KEY_ROTATION",
    kind: { type: "integer", min: 0, max: 3650 },
    default: 0,
    defaultText: "`0`: off",
    doc: "rotate the signing key on its own every this many days; `0`: never",
  },
] as const satisfies readonly Setting[];
