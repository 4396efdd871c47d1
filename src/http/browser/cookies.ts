import type { IncomingMessage } from "node:http";
import { serialize, type SerializeOptions } from "cookie";
import { AuthError } from "../../core/errors.js";

/**
 * The three cookies of cookie mode (docs/api.md section 6), their attributes in one table, and
 * reading them from a request. Both adapters use these: Fastify hands the same name, value and
 * options to `reply.setCookie` (@fastify/cookie), Express sends `serializeCookie`'s line.
 */
export const ACCESS_COOKIE = "__Host-tokenver-access";
export const REFRESH_COOKIE = "__Secure-tokenver-refresh";
export const CSRF_COOKIE = "__Host-tokenver-csrf";

export interface CookieToSet {
  name: string;
  value: string;
  /** `maxAge` in seconds, as the `cookie` package (and @fastify/cookie) take it. */
  options: SerializeOptions & { maxAge: number; path: string };
}

/** The access and CSRF cookies are `__Host-`: Path=/ and no Domain. The refresh cookie goes only to the refresh endpoint. */
function attributes(name: string, refreshPath: string): Omit<CookieToSet["options"], "maxAge"> {
  if (name === ACCESS_COOKIE) return { path: "/", httpOnly: true, secure: true, sameSite: "lax" };
  if (name === REFRESH_COOKIE) return { path: refreshPath, httpOnly: true, secure: true, sameSite: "strict" };
  // Readable by the page's script: it sends it back as X-CSRF-Token.
  return { path: "/", secure: true, sameSite: "lax" };
}

/** The three cookies of a token-issuing answer; all live as long as the refresh token (so an expired access token is `token_expired`). */
export function sessionCookies(
  tokens: { access: string; refresh: string; csrf: string },
  refreshPath: string,
  refreshTtl: number,
): CookieToSet[] {
  return [
    { name: ACCESS_COOKIE, value: tokens.access, options: { ...attributes(ACCESS_COOKIE, refreshPath), maxAge: refreshTtl } },
    { name: REFRESH_COOKIE, value: tokens.refresh, options: { ...attributes(REFRESH_COOKIE, refreshPath), maxAge: refreshTtl } },
    { name: CSRF_COOKIE, value: tokens.csrf, options: { ...attributes(CSRF_COOKIE, refreshPath), maxAge: refreshTtl } },
  ];
}

/** The CSRF cookie alone: a flow that moved the session's CSRF epoch without issuing tokens (a second-factor change). */
export function csrfCookie(csrf: string, refreshTtl: number): CookieToSet {
  return { name: CSRF_COOKIE, value: csrf, options: { ...attributes(CSRF_COOKIE, "/"), maxAge: refreshTtl } };
}

/** Deleting: the same name, Path and Secure (and the other attributes), an empty value and Max-Age=0. */
export function expiredCookies(refreshPath: string): CookieToSet[] {
  return [ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE].map((name) => ({
    name,
    value: "",
    options: { ...attributes(name, refreshPath), maxAge: 0 },
  }));
}

export function serializeCookie(cookie: CookieToSet): string {
  return serialize(cookie.name, cookie.value, cookie.options);
}

/** The refresh cookie's Path: the public URL's path, the mount prefix, then `/token/refresh`. */
export function refreshCookiePath(publicPath: string, mountPath: string): string {
  return `${publicPath}${mountPath.replace(/\/+$/, "")}/token/refresh`;
}

export interface TokenverCookies {
  access?: string;
  refresh?: string;
}

/**
 * tokenver's cookies of a request. One of them sent twice (a cookie planted for a parent domain or
 * a longer path beside ours) is ambiguous: `401 token_invalid`, never a guess by order.
 */
export function readCookies(request: Pick<IncomingMessage, "headers">): TokenverCookies {
  const header = request.headers.cookie;
  const found: TokenverCookies = {};
  if (header === undefined || header === "") return found;
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq === -1) continue;
    const name = pair.slice(0, eq).trim();
    const key = name === ACCESS_COOKIE ? "access" : name === REFRESH_COOKIE ? "refresh" : undefined;
    if (key === undefined) continue;
    if (found[key] !== undefined) {
      throw new AuthError("token_invalid", `The ${name} cookie was sent more than once.`, { tokenPresented: true });
    }
    found[key] = pair.slice(eq + 1).trim();
  }
  return found;
}
