// The key material (src/core/keys/material.ts): what TOKENVER_SIGNING_KEY accepts for each
// algorithm (every key type against every algorithm: only the one that fits is taken, and the
// refusal names the setting's rule), the key generated for each algorithm, and the public JWK:
// only kty, the public parameters, kid (the RFC 7638 thumbprint, computed here by hand), alg and
// use. No database.
import assert from "node:assert/strict";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { describe, test } from "node:test";
import {
  generateKeyMaterial,
  importConfiguredKey,
  publicJwkFromPrivate,
  publicPemOf,
  SIGNING_ALGS,
  SigningKeyError,
  type SigningAlg,
} from "../../../../src/core/keys/material.js";
import { KEYS_SETTINGS } from "../../../../src/settings/rows/keys.js";

const pemOf = (key: KeyObject) => key.export({ format: "pem", type: "pkcs8" }).toString();

/** RFC 7638: SHA-256 over the required members, in lexicographic order, without whitespace. */
function thumbprint(jwk: Record<string, unknown>): string {
  const members = { OKP: ["crv", "kty", "x"], EC: ["crv", "kty", "x", "y"], RSA: ["e", "kty", "n"] }[jwk.kty as string]!;
  const json = `{${members.map((m) => `"${m}":${JSON.stringify(jwk[m])}`).join(",")}}`;
  return createHash("sha256").update(json).digest("base64url");
}

const KEYS = {
  ed25519: generateKeyPairSync("ed25519").privateKey,
  ed448: generateKeyPairSync("ed448").privateKey,
  x25519: generateKeyPairSync("x25519").privateKey,
  p256: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey,
  p384: generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey,
  secp256k1: generateKeyPairSync("ec", { namedCurve: "secp256k1" }).privateKey,
  rsa2048: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey,
  rsa1024: generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey,
  rsa2048e3: generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 3 }).privateKey,
  rsaPss: generateKeyPairSync("rsa-pss", { modulusLength: 2048 }).privateKey,
};
/** The one algorithm each key is for (undefined: none). */
const FITS: Record<keyof typeof KEYS, SigningAlg | undefined> = {
  ed25519: "EdDSA",
  ed448: undefined,
  x25519: undefined,
  p256: "ES256",
  p384: undefined,
  secp256k1: undefined,
  rsa2048: "RS256",
  rsa1024: undefined,
  rsa2048e3: undefined,
  rsaPss: undefined,
};
const WANTED = {
  EdDSA: "must be an Ed25519 key for TOKENVER_SIGNING_ALG=EdDSA",
  ES256: "must be a P-256 key for TOKENVER_SIGNING_ALG=ES256",
  RS256: "must be an RSA key of at least 2048 bits with e = 65537 for TOKENVER_SIGNING_ALG=RS256",
};
const PUBLIC_MEMBERS = {
  OKP: ["alg", "crv", "kid", "kty", "use", "x"],
  EC: ["alg", "crv", "kid", "kty", "use", "x", "y"],
  RSA: ["alg", "e", "kid", "kty", "n", "use"],
};

async function refused(text: string, alg: SigningAlg, message: string) {
  await assert.rejects(importConfiguredKey(text, alg), (error: unknown) => {
    assert.ok(error instanceof SigningKeyError, String(error));
    assert.equal(error.message, message);
    return true;
  });
}

/** The material signs, and its public JWK (and so its kid) is that of the private half. */
function checkPair(material: { kid: string; alg: SigningAlg; secretText: string; publicJwk: Record<string, string> | null }) {
  assert.match(material.secretText, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PRIVATE KEY-----\n?$/);
  const privateKey = createPrivateKey(material.secretText);
  const jwk = createPublicKey(privateKey).export({ format: "jwk" }) as Record<string, unknown>;
  const published = material.publicJwk!;
  assert.deepEqual(Object.keys(published).sort(), PUBLIC_MEMBERS[jwk.kty as keyof typeof PUBLIC_MEMBERS]);
  for (const name of Object.keys(published)) if (!["alg", "kid", "use"].includes(name)) assert.equal(published[name], jwk[name], name);
  assert.equal(published.alg, material.alg);
  assert.equal(published.use, "sig");
  assert.equal(published.kid, thumbprint(jwk));
  assert.equal(material.kid, published.kid);
  // What the JWKS publishes verifies what the private half signs.
  const digest = material.alg === "EdDSA" ? null : "sha256";
  const signature = sign(digest, Buffer.from("input"), privateKey);
  assert.ok(verify(digest, Buffer.from("input"), createPublicKey({ key: published, format: "jwk" }), signature));
}

describe("importConfiguredKey: TOKENVER_SIGNING_KEY against TOKENVER_SIGNING_ALG", () => {
  for (const [name, key] of Object.entries(KEYS) as Array<[keyof typeof KEYS, KeyObject]>) {
    for (const alg of ["EdDSA", "ES256", "RS256"] as const) {
      const fits = FITS[name] === alg;
      test(`${name} for ${alg}: ${fits ? "taken" : "refused"}`, async () => {
        if (!fits) return refused(pemOf(key), alg, WANTED[alg]);
        const material = await importConfiguredKey(pemOf(key), alg);
        assert.equal(material.alg, alg);
        checkPair(material);
        // The same private key, as PKCS#8 PEM.
        assert.deepEqual(createPrivateKey(material.secretText).export({ format: "jwk" }), key.export({ format: "jwk" }));
      });
    }
  }

  test("a JWK and a PEM, with whitespace around, are the same key with the same kid", async () => {
    const pem = await importConfiguredKey(`\n  ${pemOf(KEYS.p256)}  \n`, "ES256");
    const jwk = await importConfiguredKey(`  ${JSON.stringify(KEYS.p256.export({ format: "jwk" }))}\n`, "ES256");
    assert.equal(jwk.kid, pem.kid);
    assert.equal(jwk.secretText, pem.secretText);
    assert.deepEqual(jwk.publicJwk, pem.publicJwk);
  });

  test("no asymmetric key for HS256; what is not a private key is refused with the rule, never echoed", async () => {
    await refused(
      pemOf(KEYS.ed25519),
      "HS256",
      "is for an asymmetric algorithm: set TOKENVER_SIGNING_ALG (HS256 signs with TOKENVER_SECRET)",
    );
    const rule = "must be a private key as PKCS#8 PEM or a JWK";
    await refused("not a key", "EdDSA", rule);
    await refused("{not json", "EdDSA", rule);
    // A public key (PEM or JWK) is not a signing key.
    await refused(createPublicKey(KEYS.p256).export({ format: "pem", type: "spki" }).toString(), "ES256", rule);
    await refused(JSON.stringify(createPublicKey(KEYS.p256).export({ format: "jwk" })), "ES256", rule);
  });
});

describe("generateKeyMaterial", () => {
  test("every algorithm TOKENVER_SIGNING_ALG accepts is one tokenver signs with, and generates a key", async () => {
    const setting = KEYS_SETTINGS.find((s) => s.env === "TOKENVER_SIGNING_ALG")!;
    assert.deepEqual(setting.kind, { type: "enum", values: [...SIGNING_ALGS] });
    assert.deepEqual(SIGNING_ALGS, ["HS256", "EdDSA", "ES256", "RS256"]);
    for (const alg of SIGNING_ALGS) assert.equal((await generateKeyMaterial(alg)).alg, alg);
  });

  test("HS256: 256 random bits and a random kid of 128 bits, nothing public", async () => {
    const a = await generateKeyMaterial("HS256");
    const b = await generateKeyMaterial("HS256");
    for (const m of [a, b]) {
      assert.equal(m.alg, "HS256");
      assert.equal(m.publicJwk, null);
      assert.match(m.kid, /^[A-Za-z0-9_-]{22}$/);
      assert.match(m.secretText, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(m.secretText, "base64url").length, 32);
      assert.equal(Buffer.from(m.kid, "base64url").length, 16);
    }
    assert.notEqual(a.kid, b.kid);
    assert.notEqual(a.secretText, b.secretText);
  });

  for (const [alg, type, detail] of [
    ["EdDSA", "ed25519", {}],
    ["ES256", "ec", { namedCurve: "prime256v1" }],
    ["RS256", "rsa", { modulusLength: 2048, publicExponent: 65537n }],
  ] as const) {
    test(`${alg}: a ${type} key whose kid is its thumbprint, that the configured-key check takes`, async () => {
      const material = await generateKeyMaterial(alg);
      assert.equal(material.alg, alg);
      checkPair(material);
      const key = createPrivateKey(material.secretText);
      assert.equal(key.asymmetricKeyType, type);
      for (const [name, value] of Object.entries(detail)) assert.equal((key.asymmetricKeyDetails as Record<string, unknown>)[name], value);
      const again = await importConfiguredKey(material.secretText, alg);
      assert.equal(again.kid, material.kid);
      assert.notEqual((await generateKeyMaterial(alg)).kid, material.kid);
    });
  }
});

describe("the public half of a stored key", () => {
  test("publicJwkFromPrivate: the public parameters of the private half, under the kid given", async () => {
    for (const alg of ["EdDSA", "ES256", "RS256"] as const) {
      const material = await generateKeyMaterial(alg);
      assert.deepEqual(publicJwkFromPrivate(material.secretText, alg, material.kid), material.publicJwk);
      // The kid is the stored one (bound to the private half by the seal), not recomputed.
      assert.equal(publicJwkFromPrivate(material.secretText, alg, "stored-kid").kid, "stored-kid");
    }
  });

  test("publicPemOf: the SPKI PEM that verifies what the private half signs", async () => {
    for (const alg of ["EdDSA", "ES256", "RS256"] as const) {
      const material = await generateKeyMaterial(alg);
      const pem = publicPemOf(material.secretText);
      assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
      const digest = alg === "EdDSA" ? null : "sha256";
      const signature = sign(digest, Buffer.from("x"), createPrivateKey(material.secretText));
      assert.ok(verify(digest, Buffer.from("x"), pem, signature));
    }
  });
});
