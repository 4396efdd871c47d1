import assert from "node:assert/strict";
import { uniqueEmail, type Api, type ApiResponse } from "../support/server.js";

export const PASSWORD = "a long and unguessable passphrase";
export const ACCESS = "__Host-tokenver-access";
export const REFRESH = "__Secure-tokenver-refresh";
export const CSRF = "__Host-tokenver-csrf";

export interface ParsedCookie {
  name: string;
  value: string;
  /** Attribute names lower-cased -> value ("" for flags). */
  attributes: Record<string, string>;
  raw: string;
}

/** Every Set-Cookie line of a response, parsed exactly (attribute names lower-cased). */
export function setCookies(response: ApiResponse): Map<string, ParsedCookie> {
  const map = new Map<string, ParsedCookie>();
  for (const line of response.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(";").map((part) => part.trim());
    const eq = pair!.indexOf("=");
    const attributes: Record<string, string> = {};
    for (const attr of attrs) {
      const i = attr.indexOf("=");
      attributes[(i === -1 ? attr : attr.slice(0, i)).toLowerCase()] = i === -1 ? "" : attr.slice(i + 1);
    }
    const name = pair!.slice(0, eq);
    assert.ok(!map.has(name), `one Set-Cookie per name (${name})`);
    map.set(name, { name, value: pair!.slice(eq + 1), attributes, raw: line });
  }
  return map;
}

/** A browser's session in cookie mode: the two cookies it would send, and the CSRF token the page keeps. */
export interface CookieSession {
  access: string;
  refresh: string;
  csrf: string;
  email: string;
}

export function sessionOf(response: ApiResponse, email = ""): CookieSession {
  const cookies = setCookies(response);
  return { access: cookies.get(ACCESS)!.value, refresh: cookies.get(REFRESH)!.value, csrf: response.body.csrf_token, email };
}

/** The headers of a page on `origin` sending its cookies (and, for unsafe requests, its CSRF token). */
export function pageHeaders(origin: string, session: Partial<CookieSession>, extra: Record<string, string> = {}): Record<string, string> {
  const cookies = [session.access && `${ACCESS}=${session.access}`, session.refresh && `${REFRESH}=${session.refresh}`].filter(Boolean);
  return {
    origin,
    ...(cookies.length > 0 ? { cookie: cookies.join("; ") } : {}),
    ...(session.csrf === undefined ? {} : { "x-csrf-token": session.csrf }),
    ...extra,
  };
}

export async function registerInCookieMode(api: Api, origin: string): Promise<CookieSession & { response: ApiResponse }> {
  const email = uniqueEmail();
  const response = await api.request("POST", "/register", {
    body: { email, password: PASSWORD },
    headers: { origin, "tokenver-mode": "cookie" },
  });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return { ...sessionOf(response, email), response };
}

export function assertProblem(response: ApiResponse, status: number, code: string, what: string): void {
  assert.equal(response.status, status, `${what}: status (${JSON.stringify(response.body)})`);
  assert.equal(response.body?.code, code, `${what}: code`);
  assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/, `${what}: problem+json`);
}
