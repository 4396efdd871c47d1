import { randomUUID } from "node:crypto";
import { createSigner, createVerifier, TokenError } from "fast-jwt";
import { BoundedMap } from "../../lib/bounded-map.js";
import { deriveKey } from "../../lib/derive-key.js";
import { AuthError } from "../errors.js";
import { nowSeconds, type Clock } from "../clock.js";
import type { SigningAlg } from "../keys/material.js";

/** The claims of a tokenver access token (docs/api.md section 2). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  sid: string;
  token_version: number;
  jti: string;
  iat: number;
  exp: number;
  nbf?: number;
  /** RFC 8176: how the session was authenticated (`pwd`, `otp`, `mfa`); docs/mfa.md. */
  amr?: readonly string[];
  [claim: string]: unknown;
}

export const ACCESS_TOKEN_TYPE = "at+jwt";
/** The algorithm of the server secret, and of tokens issued before `kid` existed. */
export const ALGORITHM = "HS256";

/**
 * A signing key as the signer and verifier see it (core/keys/ holds them). Each key has its own
 * algorithm: a token verifies only with the key its `kid` names, and only with that key's
 * algorithm (never one the token names).
 */
export interface TokenKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  /** The HMAC key, or the private key (PKCS#8 PEM). */
  readonly signKey: string | Buffer;
  /** The HMAC key, or the public key (SPKI PEM). */
  readonly verifyKey: string | Buffer;
}

export interface TokenKeys {
  /** The key that signs now. */
  signing(): TokenKey;
  /** The key a header's `kid` names (the same object while it is known); no kid: the key of tokens issued before kid existed. */
  find(kid: string | undefined): TokenKey | undefined;
}

/** The HKDF label of the HS256 server secret's kid (a one-way value: it says nothing of the secret). */
const SECRET_KID_LABEL = "tokenver hs256 kid v1";
/** The kid of the HS256 key that is the server secret itself: the same on every node and tool with that secret. */
export const secretKidOf = (secret: string): string => deriveKey(secret, SECRET_KID_LABEL, 16).toString("base64url");

/** One key, the server secret, under the kid every node derives from it: what a caller without a key ring (tests, benchmarks) passes. */
export function secretKeys(secret: string, kid = secretKidOf(secret)): TokenKeys {
  const key: TokenKey = { kid, alg: ALGORITHM, signKey: secret, verifyKey: secret };
  return { signing: () => key, find: (k) => (k === undefined || k === kid ? key : undefined) };
}

export interface AccessTokenConfig {
  /** The keys (core/keys/KeyRing); or, without them, `secret` alone signs and verifies (HS256). */
  keys?: TokenKeys;
  secret?: string;
  issuer: string;
  /** Seconds. */
  ttl: number;
  /** Seconds of leeway on exp and nbf. */
  clockTolerance: number;
  clock: Clock;
}

function keysOf(config: AccessTokenConfig): TokenKeys {
  if (config.keys !== undefined) return config.keys;
  if (config.secret === undefined) throw new TypeError("tokenver: access tokens need keys or a secret");
  return secretKeys(config.secret);
}

export function createAccessTokenSigner(config: AccessTokenConfig) {
  const keys = keysOf(config);
  // One fast-jwt signer per key, made when the key first signs.
  const signers = new WeakMap<TokenKey, (payload: object) => string>();
  const signerOf = (key: TokenKey) => {
    let sign = signers.get(key);
    if (sign === undefined) {
      sign = createSigner({ key: key.signKey, algorithm: key.alg, header: { alg: key.alg, typ: ACCESS_TOKEN_TYPE, kid: key.kid } });
      signers.set(key, sign);
    }
    return sign;
  };
  return (subject: string, sessionId: string, tokenVersion: number, amr: readonly string[] = DEFAULT_AMR): string => {
    // iat and exp come from the injected clock (fast-jwt keeps a payload iat as given).
    const iat = nowSeconds(config.clock);
    return signerOf(keys.signing())({
      iss: config.issuer,
      sub: subject,
      sid: sessionId,
      token_version: tokenVersion,
      amr: [...amr],
      jti: randomUUID(),
      iat,
      exp: iat + config.ttl,
    });
  };
}

/** A session signed in with the password alone (RFC 8176 `pwd`). */
export const DEFAULT_AMR: readonly string[] = Object.freeze(["pwd"]);

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** The 6-bit value of each base64url character (the alphabet is checked by COMPACT_JWS). */
const BASE64URL_VALUE = new Uint8Array(128);
for (const [index, char] of [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"].entries()) {
  BASE64URL_VALUE[char.charCodeAt(0)] = index;
}

/** By a segment's length mod 4: the unused low bits of its last character (-1: no encoding). */
const UNUSED_BITS = [0, -1, 0b1111, 0b11];

/**
 * Whether `token[start, end)` is the one base64url spelling of its bytes (RFC 7515 2, RFC 4648
 * 3.5): decoding ignores the unused low bits of the last character (2 bits after 2 bytes, 4 after
 * 1), so `...Q` and `...R` would decode alike and one token could be sent as several strings.
 * Without padding and of the alphabet (COMPACT_JWS), only the length and the last character
 * remain: a length of 1 mod 4 is no encoding at all, and the unused bits must be zero.
 */
function isCanonicalBase64url(token: string, start: number, end: number): boolean {
  const mask = UNUSED_BITS[(end - start) & 3]!;
  return mask === 0 || (mask > 0 && (BASE64URL_VALUE[token.charCodeAt(end - 1)]! & mask) === 0);
}

/** All three segments of a token that matched COMPACT_JWS are canonical base64url. */
function isCanonicalJws(token: string): boolean {
  const first = token.indexOf(".");
  const second = token.indexOf(".", first + 1);
  return (
    isCanonicalBase64url(token, 0, first) &&
    isCanonicalBase64url(token, first + 1, second) &&
    isCanonicalBase64url(token, second + 1, token.length)
  );
}

/** How many verified tokens a verifier remembers (about 1 KiB each). */
export const VERIFIED_TOKEN_CACHE_SIZE = 20_000;

/**
 * Verifies signature, header and claims of an access token; throws `AuthError` with
 * `token_invalid` or `token_expired`. Revocation is checked afterwards, against the store.
 */
export function createAccessTokenVerifier(config: AccessTokenConfig, cacheSize = VERIFIED_TOKEN_CACHE_SIZE) {
  const keys = keysOf(config);
  // One fast-jwt verifier per key, pinned to that key's own algorithm.
  const verifiers = new WeakMap<TokenKey, (token: string) => unknown>();
  const verifierOf = (key: TokenKey) => {
    let verify = verifiers.get(key);
    if (verify === undefined) {
      verify = createVerifier({
        key: key.verifyKey,
        algorithms: [key.alg],
        allowedIss: config.issuer,
        checkTyp: ACCESS_TOKEN_TYPE,
        requiredClaims: ["iss", "sub", "sid", "token_version", "jti", "iat", "exp"],
        // exp and nbf are checked below against the injected clock.
        ignoreExpiration: true,
        ignoreNotBefore: true,
        // No fast-jwt cache: its key is a SHA-256 of the token, which costs as much as the HMAC it
        // saves, and with more live tokens than entries it thrashes (measured: 17 µs vs 6 µs uncached).
      });
      verifiers.set(key, verify);
    }
    return verify;
  };
  const verified = new VerifiedTokens(cacheSize);
  const leeway = config.clockTolerance;

  const verifyUncached = (token: string): VerifiedToken => {
    // Compact JWS only: JWE (five parts), JSON serialisation and stray characters are refused early.
    if (token.length > 8192 || !COMPACT_JWS.test(token)) throw invalid("The token is not a compact JWS.");
    // One token, one string: the cache below is keyed by the string, and so is anything a client
    // or a log compares. A token with another spelling of the same bytes is not ours.
    if (!isCanonicalJws(token)) throw invalid("The token is not canonical base64url.");
    // The key is the one the kid names, with its own algorithm: a header alg that differs is refused.
    const header = headerOf(token);
    const key = keys.find(header.kid);
    if (key === undefined) throw invalid("The token's key is unknown.");
    if (header.alg !== key.alg) throw invalid("The token's algorithm is not its key's.");
    let claims: AccessTokenClaims;
    try {
      claims = verifierOf(key)(token) as AccessTokenClaims;
    } catch (error) {
      if (error instanceof TokenError) throw invalid("The token could not be verified.");
      throw error;
    }
    validateClaims(claims);
    // Shared by every request that presents this token: nobody may change it under the others.
    return { claims: Object.freeze(claims), kid: header.kid, key };
  };

  return (token: string): AccessTokenClaims => {
    let entry = verified.get(token);
    // A hit counts only while its key is still known (a revoked key's tokens die at once).
    if (entry === undefined || keys.find(entry.kid) !== entry.key) {
      entry = verifyUncached(token);
      verified.add(token, entry);
    }
    const claims = entry.claims;
    // Time-dependent checks run on every call, cached or not.
    const now = nowSeconds(config.clock);
    if (claims.exp + leeway <= now) throw new AuthError("token_expired", "The token has expired.", { tokenPresented: true });
    if (claims.nbf !== undefined && claims.nbf - leeway > now) throw invalid("The token is not valid yet.");
    return claims;
  };
}

interface VerifiedToken {
  claims: AccessTokenClaims;
  kid: string | undefined;
  key: TokenKey;
}

/** The protected header's `alg` and `kid` (a kid that is not a string is refused). */
function headerOf(token: string): { alg: unknown; kid: string | undefined } {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(token.slice(0, token.indexOf(".")), "base64url").toString("utf8"));
  } catch {
    throw invalid("The token's header is not JSON.");
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) throw invalid("The token's header is not an object.");
  const { alg, kid } = header as { alg?: unknown; kid?: unknown };
  if (kid !== undefined && (typeof kid !== "string" || kid.length === 0)) throw invalid("The token's kid is invalid.");
  return { alg, kid: kid as string | undefined };
}

/**
 * Tokens whose signature, header and claims verified, keyed by the exact token string: the same
 * string always verifies the same way, so a hit is as good as a fresh verification (no hash of
 * the token, so no collision to reason about). Only successes are kept. Bounded: the oldest entry
 * goes first (insertion order), which is enough for access tokens that all live the same time.
 */
class VerifiedTokens {
  readonly #entries: BoundedMap<string, VerifiedToken> | undefined;

  constructor(max: number) {
    this.#entries = max > 0 ? new BoundedMap(max) : undefined;
  }

  get(token: string): VerifiedToken | undefined {
    return this.#entries?.get(token);
  }

  add(token: string, entry: VerifiedToken): void {
    this.#entries?.set(token, entry);
  }
}

function validateClaims(claims: AccessTokenClaims): void {
  // We never issue an audience; a token that names one was meant for someone else (RFC 7519 4.1.3).
  if (claims.aud !== undefined) throw invalid("The token is meant for another audience.");
  if (typeof claims.sub !== "string" || claims.sub.length === 0) throw invalid("The sub claim is invalid.");
  if (typeof claims.sid !== "string" || claims.sid.length === 0) throw invalid("The sid claim is invalid.");
  if (typeof claims.jti !== "string" || claims.jti.length === 0) throw invalid("The jti claim is invalid.");
  if (!Number.isSafeInteger(claims.token_version) || claims.token_version < 0) {
    throw invalid("The token_version claim is invalid.");
  }
  if (!Number.isFinite(claims.exp) || !Number.isFinite(claims.iat)) throw invalid("The exp or iat claim is invalid.");
  if (claims.nbf !== undefined && !Number.isFinite(claims.nbf)) throw invalid("The nbf claim is invalid.");
  if (claims.amr !== undefined && (!Array.isArray(claims.amr) || !claims.amr.every((v) => typeof v === "string"))) {
    throw invalid("The amr claim is invalid.");
  }
}

function invalid(detail: string): AuthError {
  return new AuthError("token_invalid", detail, { tokenPresented: true });
}
