import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, type JWK } from "jose";

/** The algorithms tokenver signs with (docs/api.md section 7). */
export type SigningAlg = "HS256" | "EdDSA" | "ES256" | "RS256";
export const SIGNING_ALGS: readonly SigningAlg[] = ["HS256", "EdDSA", "ES256", "RS256"];

/** A new key's material, before it is sealed and stored. Never logged, never answered. */
export interface NewKeyMaterial {
  kid: string;
  alg: SigningAlg;
  /** PKCS#8 PEM (asymmetric) or base64url of the HMAC key (HS256). */
  secretText: string;
  /** The public JWK with kty, kid, alg, use and its public parameters only; null for HS256. */
  publicJwk: PublicJwk | null;
}

export interface PublicJwk {
  kty: string;
  kid: string;
  alg: string;
  use: "sig";
  [parameter: string]: string;
}

/** The public parameters of each key type (RFC 7518 6.2.1, 6.3.1; RFC 8037 2): nothing else is published. */
const PUBLIC_PARAMETERS: Record<string, readonly string[]> = { OKP: ["crv", "x"], EC: ["crv", "x", "y"], RSA: ["n", "e"] };

/** Generates a key (jose; off the hot path). HS256: 256 random bits with a random kid. */
export async function generateKeyMaterial(alg: SigningAlg): Promise<NewKeyMaterial> {
  if (alg === "HS256") {
    return { kid: randomBytes(16).toString("base64url"), alg, secretText: randomBytes(32).toString("base64url"), publicJwk: null };
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}),
    ...(alg === "RS256" ? { modulusLength: 2048 } : {}),
  });
  const publicJwk = await publicJwkOf(await exportJWK(publicKey), alg);
  return { kid: publicJwk.kid, alg, secretText: await exportPKCS8(privateKey), publicJwk };
}

/** Thrown for a `signingKey` that does not fit `signingAlg`: the message names what is wrong. */
export class SigningKeyError extends Error {}

/**
 * The key given in `TOKENVER_SIGNING_KEY` (PKCS#8 PEM or a private JWK), checked against the
 * algorithm: Ed25519 for EdDSA, P-256 for ES256, RSA of at least 2048 bits with e = 65537 for RS256.
 */
export async function importConfiguredKey(text: string, alg: SigningAlg): Promise<NewKeyMaterial> {
  if (alg === "HS256")
    throw new SigningKeyError("is for an asymmetric algorithm: set TOKENVER_SIGNING_ALG (HS256 signs with TOKENVER_SECRET)");
  let key: KeyObject;
  try {
    const trimmed = text.trim();
    key = trimmed.startsWith("{")
      ? createPrivateKey({ key: JSON.parse(trimmed) as import("node:crypto").JsonWebKey, format: "jwk" })
      : createPrivateKey(trimmed);
  } catch {
    throw new SigningKeyError("must be a private key as PKCS#8 PEM or a JWK");
  }
  const details = key.asymmetricKeyDetails ?? {};
  const fits =
    (alg === "EdDSA" && key.asymmetricKeyType === "ed25519") ||
    (alg === "ES256" && key.asymmetricKeyType === "ec" && details.namedCurve === "prime256v1") ||
    (alg === "RS256" && key.asymmetricKeyType === "rsa" && (details.modulusLength ?? 0) >= 2048 && details.publicExponent === 65537n);
  if (!fits) {
    const wanted = { EdDSA: "an Ed25519 key", ES256: "a P-256 key", RS256: "an RSA key of at least 2048 bits with e = 65537" }[alg];
    throw new SigningKeyError(`must be ${wanted} for TOKENVER_SIGNING_ALG=${alg}`);
  }
  const publicJwk = await publicJwkOf(createPublicKey(key).export({ format: "jwk" }) as JWK, alg);
  return { kid: publicJwk.kid, alg, secretText: key.export({ format: "pem", type: "pkcs8" }).toString(), publicJwk };
}

/** Only kty, the public parameters, kid (the RFC 7638 thumbprint), alg and use. */
async function publicJwkOf(jwk: JWK, alg: SigningAlg): Promise<PublicJwk> {
  const kty = jwk.kty!;
  const out: PublicJwk = { kty, kid: "", alg, use: "sig" };
  for (const name of PUBLIC_PARAMETERS[kty] ?? []) out[name] = String((jwk as Record<string, unknown>)[name]);
  out.kid = await calculateJwkThumbprint(jwk, "sha256");
  return out;
}

/**
 * The public JWK of a stored key, derived from its private half (which the AEAD seal binds to the
 * kid), never read from the row's `public_jwk`: whoever can write the database but not unseal a
 * key cannot make the JWKS publish a key of their own.
 */
export function publicJwkFromPrivate(privatePem: string, alg: SigningAlg, kid: string): PublicJwk {
  const jwk = createPublicKey(privatePem).export({ format: "jwk" }) as Record<string, unknown>;
  const out: PublicJwk = { kty: String(jwk.kty), kid, alg, use: "sig" };
  for (const name of PUBLIC_PARAMETERS[out.kty] ?? []) out[name] = String(jwk[name]);
  return out;
}

/** The PEM of the public half, for the verifier. */
export function publicPemOf(privatePem: string): string {
  return createPublicKey(privatePem).export({ format: "pem", type: "spki" }).toString();
}
