import type { IncomingMessage } from "node:http";
import type { Auth } from "../../core/auth.js";
import { AuthError, isAuthError } from "../../core/errors.js";
import type { Principal } from "../../core/types.js";
import { runEndpoint, type AnyEndpoint } from "../endpoint.js";
import { csrfCookie, expiredCookies, readCookies, refreshCookiePath, sessionCookies, type CookieToSet } from "./cookies.js";
import { checkRequestedMode, type Mode } from "./gate.js";

/**
 * Runs a row of the endpoint table for any adapter, with cookie mode around it (docs/api.md
 * section 6): the mode the request asks for (and its origin checks), the refresh cookie for the
 * refresh row, and, on the way out, a cookie-mode answer (no token in the body, three cookies)
 * for the rows marked `issuesTokens`, or the expired cookies for those marked `expiresCookies`.
 */
export interface BrowserCall {
  auth: Auth<any>;
  request: IncomingMessage;
  principal: Principal | null | undefined;
  /** How the adapter authenticated the request (absent on a public row): the access cookie means cookie mode. */
  authMode: Mode | undefined;
  body: unknown;
  params: unknown;
  query?: unknown;
  client: { userAgent?: string | undefined; ip?: string | undefined };
  /** The path the endpoints are mounted at, as the browser sees it below the public URL's path (`""` at the root). */
  mountPath: string;
}

export interface BrowserAnswer {
  body: object | undefined;
  cookies: CookieToSet[];
}

export async function answerEndpoint(row: AnyEndpoint, call: BrowserCall): Promise<BrowserAnswer> {
  // Against login CSRF: a cookie-mode sign-in must come from an allowed page too (the adapters
  // ran this before parsing the body already; it is cheap, and keeps this function whole).
  const requested = checkRequestedMode(call.auth.browser.allowedOrigins, call.request);
  const mode: Mode = requested === "cookie" || call.authMode === "cookie" ? "cookie" : "bearer";
  const cookies = row.readsRefreshCookie && mode === "cookie" ? readCookies(call.request) : {};
  const refreshPath = refreshCookiePath(call.auth.browser.publicPath, call.mountPath);
  let result: object | undefined;
  try {
    result = await runEndpoint(row, {
      auth: call.auth,
      principal: call.principal,
      body: call.body,
      params: call.params,
      query: call.query,
      client: { ...call.client, mode },
      // Rows that authenticate their callers themselves (introspection's HTTP Basic) read it.
      authorization: call.request.headers.authorization,
      ...(cookies.refresh === undefined ? {} : { refreshCookie: cookies.refresh }),
    });
  } catch (error) {
    // A refresh cookie that can never work again (reused, revoked, unknown, expired, a disabled
    // account) is expired with its two companions, so the page does not keep a dead session.
    const fromCookie = cookies.refresh !== undefined && (call.body as { refresh?: unknown } | undefined)?.refresh === undefined;
    if (fromCookie && isAuthError(error) && (error.status === 401 || error.code === "account_disabled")) {
      (error as FailedWithCookies)[FAILURE_COOKIES] = expiredCookies(refreshPath);
    }
    throw error;
  }
  if (row.expiresCookies) return { body: result, cookies: expiredCookies(refreshPath) };
  if (row.renewsCsrf && mode === "cookie" && call.principal) {
    // The flow moved the session's CSRF epoch (advanceCsrfEpoch): hand the page the new token.
    const csrf = await call.auth.issueCsrfToken(call.principal.userId, call.principal.sessionId);
    return { body: result, cookies: csrf === undefined ? [] : [csrfCookie(csrf, call.auth.browser.refreshTtl)] };
  }
  if (!row.issuesTokens || mode !== "cookie" || result === undefined) return { body: result, cookies: [] };
  return cookieModeAnswer(call.auth, result as WireTokens, refreshPath);
}

const FAILURE_COOKIES: unique symbol = Symbol("tokenver.failureCookies");
type FailedWithCookies = { [FAILURE_COOKIES]?: CookieToSet[] };

/**
 * What a failed request must still set: the expired cookies of `POST /logout` whatever happened,
 * and of a refresh from a cookie that can never work again.
 */
export function cookiesOnFailure(
  row: { expiresCookies?: boolean } | undefined,
  auth: Auth<any>,
  mountPath: string,
  error?: unknown,
): CookieToSet[] {
  if (row?.expiresCookies) return expiredCookies(refreshCookiePath(auth.browser.publicPath, mountPath));
  return (typeof error === "object" && error !== null ? (error as FailedWithCookies)[FAILURE_COOKIES] : undefined) ?? [];
}

interface WireTokens {
  user?: object;
  access?: unknown;
  refresh?: unknown;
  expires_in?: unknown;
}

async function cookieModeAnswer(auth: Auth<any>, wire: WireTokens, refreshPath: string): Promise<BrowserAnswer> {
  // An answer without tokens (registration awaiting email verification) is the same in both modes.
  if (typeof wire.access !== "string" || typeof wire.refresh !== "string") return { body: wire, cookies: [] };
  const { sub, sid } = claimsOf(wire.access);
  const csrf = await auth.issueCsrfToken(sub, sid);
  if (csrf === undefined) throw new AuthError("token_revoked", "The session was revoked meanwhile.", { tokenPresented: true });
  const body = {
    ...(wire.user === undefined ? {} : { user: wire.user }),
    token_type: "cookie",
    expires_in: wire.expires_in,
    csrf_token: csrf,
  };
  return { body, cookies: sessionCookies({ access: wire.access, refresh: wire.refresh, csrf }, refreshPath, auth.browser.refreshTtl) };
}

/** `sub` and `sid` of an access token this request has just been issued (signed here: not verified again). */
function claimsOf(accessToken: string): { sub: string; sid: string } {
  const payload = JSON.parse(Buffer.from(accessToken.split(".")[1] ?? "", "base64url").toString("utf8")) as { sub: string; sid: string };
  return { sub: payload.sub, sid: payload.sid };
}
