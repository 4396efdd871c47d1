/** The CSRF cookie, readable by script when the page and the API share a host name (docs/browser.md). */
export const CSRF_COOKIE = "__Host-tokenver-csrf";

/** The page's value of the CSRF cookie, or undefined outside a browser or on another host. */
export function readCsrfCookie(): string | undefined {
  const cookie = (globalThis as { document?: { cookie?: unknown } }).document?.cookie;
  if (typeof cookie !== "string") return undefined;
  for (const part of cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name !== CSRF_COOKIE) continue;
    try {
      return decodeURIComponent(value.join("="));
    } catch {
      return undefined; // not ours: our tokens are base64url
    }
  }
  return undefined;
}
