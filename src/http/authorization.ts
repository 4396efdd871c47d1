import type { IncomingMessage } from "node:http";
import type { Auth } from "../core/auth.js";
import { AuthError } from "../core/errors.js";
import type { Principal } from "../core/types.js";
import { readCookies } from "./browser/cookies.js";
import { checkOrigin, csrfHeader, isUnsafe, type Mode } from "./browser/gate.js";

/**
 * The request's one `Authorization` value. Node keeps only the first of repeated lines, so which
 * credentials count would depend on their order: two lines are refused instead (RFC 6750 3.1).
 */
export function authorizationOf(request: IncomingMessage): string | undefined {
  const raw = request.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 13 && name.toLowerCase() === "authorization") seen++;
  }
  if (seen > 1) throw new AuthError("token_invalid", "Send one Authorization header.", { tokenPresented: true });
  return request.headers.authorization;
}

/** How a request was authenticated: the `Authorization: Bearer` header, or the access cookie (cookie mode). */
export interface Authenticated {
  principal: Principal;
  mode: Mode;
}

/**
 * THE decision, for every adapter (docs/api.md sections 2 and 6):
 * - an `Authorization` header: `Bearer` is verified (cookies ignored, no CSRF rules); any other
 *   scheme is `401 token_invalid`;
 * - none: the access cookie, verified like a bearer token (an expired one is `token_expired`);
 *   for an unsafe method, first the origin checks and JSON-only body, then, once verified, the
 *   session's CSRF token in `X-CSRF-Token` (`403 csrf_failed`);
 * - neither: `401 token_missing`.
 */
export async function authenticate(auth: Auth<any>, request: IncomingMessage): Promise<Authenticated> {
  const authorization = authorizationOf(request);
  if (authorization !== undefined && authorization.trim() !== "") {
    // Bearer, verified; any other scheme is token_invalid (counted by verify's metrics like the rest).
    return { principal: await auth.verify(authorization, { onlyBearer: true }), mode: "bearer" };
  }
  const { access } = readCookies(request);
  // Neither header nor cookie: verify's own token_missing.
  if (access === undefined) return { principal: await auth.verify(undefined), mode: "bearer" };
  const unsafe = isUnsafe(request.method);
  if (unsafe) checkOrigin(auth.browser.allowedOrigins, request);
  const principal = await auth.verify(`Bearer ${access}`);
  if (unsafe) await auth.checkCsrfToken(principal, csrfHeader(request));
  return { principal, mode: "cookie" };
}

const MODE: unique symbol = Symbol("tokenver.mode");

/** How the adapter authenticated this request (undefined where it did not). */
export function authModeOf(request: object): Mode | undefined {
  return (request as { [MODE]?: Mode })[MODE];
}

export function setAuthMode(request: object, mode: Mode): void {
  (request as { [MODE]?: Mode })[MODE] = mode;
}
