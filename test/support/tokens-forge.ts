import { createHmac, randomUUID } from "node:crypto";

/**
 * Hand-made JWTs for attack tests. Signed with node:crypto directly (not the library under test),
 * so a test controls every byte of the header and claims and the verifier cannot "help".
 */

export type Json = Record<string, unknown>;

export const b64url = (value: string | Buffer): string => Buffer.from(value).toString("base64url");
const encodeJson = (value: unknown): string => b64url(JSON.stringify(value));

export interface ForgeOptions {
  header?: Json;
  claims: Json;
  /** Secret to sign with; ignored when `signature` is given. */
  secret?: string;
  /** HMAC hash: sha256 (HS256), sha384 (HS384), sha512 (HS512). */
  hash?: "sha256" | "sha384" | "sha512";
  /** A literal signature segment ("" for an unsigned token). */
  signature?: string;
}

export function hmac(signingInput: string, secret: string, hash: "sha256" | "sha384" | "sha512" = "sha256"): string {
  return createHmac(hash, secret).update(signingInput).digest("base64url");
}

/** A compact JWS with exactly the given header and claims. */
export function forge({ header = { alg: "HS256", typ: "at+jwt" }, claims, secret, hash = "sha256", signature }: ForgeOptions): string {
  const input = `${encodeJson(header)}.${encodeJson(claims)}`;
  const sig = signature ?? (secret === undefined ? "" : hmac(input, secret, hash));
  return `${input}.${sig}`;
}

export function decodePart(token: string, index: 0 | 1): Json {
  return JSON.parse(Buffer.from(token.split(".")[index]!, "base64url").toString("utf8")) as Json;
}

/** A claim set that mirrors what the server issues, valid now, for the given user and session. */
export function validClaims(sub: string, sid: string, tokenVersion = 0, issuer = "tokenver"): Json {
  const iat = Math.floor(Date.now() / 1000);
  return { iss: issuer, sub, sid, token_version: tokenVersion, jti: randomUUID(), iat, exp: iat + 900 };
}

/** The token with its claims replaced by `mutate(claims)`, re-signed with `secret` as HS256. */
export function resign(token: string, secret: string, mutate: (claims: Json) => Json = (c) => c, header?: Json): string {
  return forge({ header: header ?? decodePart(token, 0), claims: mutate(decodePart(token, 1)), secret });
}

/** Claims of `donor` under the header and signature of `victim`: a swapped payload. */
export function swapPayload(victim: string, donor: string): string {
  const [h, , s] = victim.split(".");
  return `${h}.${donor.split(".")[1]}.${s}`;
}
