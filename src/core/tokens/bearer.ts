import { AuthError } from "../errors.js";

// RFC 6750 section 2.1: the scheme is case-insensitive, one or more spaces, then a b64token.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const SCHEME = /^Bearer(?:\s|$)/i;

/**
 * Takes the access token out of an `Authorization` header value. No header, or another scheme,
 * is `token_missing`; a Bearer header without a well-formed token is `token_invalid`. With
 * `onlyBearer` (the HTTP adapters, where another scheme is not "no credentials" but the wrong
 * ones: docs/api.md section 6), another scheme is `token_invalid`, still with no bearer token
 * presented (a bare challenge, RFC 6750 3.1).
 */
export function parseBearer(authorization: string | null | undefined, onlyBearer = false): string {
  if (typeof authorization !== "string" || authorization.length === 0) {
    throw new AuthError("token_missing", "A bearer token is required.");
  }
  const value = authorization.trim();
  const match = BEARER.exec(value);
  if (match) return match[1]!;
  if (SCHEME.test(value)) throw new AuthError("token_invalid", "The bearer token is malformed.", { tokenPresented: true });
  if (onlyBearer) throw new AuthError("token_invalid", "Only the Bearer scheme is accepted.");
  throw new AuthError("token_missing", "A bearer token is required.");
}
