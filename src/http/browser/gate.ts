import type { IncomingMessage } from "node:http";
import { AuthError } from "../../core/errors.js";
import { csrfFailed } from "../../core/browser/csrf-token.js";

/**
 * The request-side rules of cookie mode (docs/api.md section 6) that need no store: the mode a
 * request asks for, the origin checks (Origin, Fetch Metadata) and JSON-only bodies.
 */
export type Mode = "cookie" | "bearer";

type Request = Pick<IncomingMessage, "headers" | "method" | "rawHeaders">;

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function isUnsafe(method: string | undefined): boolean {
  return !SAFE_METHODS.has((method ?? "GET").toUpperCase());
}

/** `Tokenver-Mode`: `cookie`, `bearer` (the default, said out loud) or absent; anything else is `400 bad_request`. */
export function requestedMode(request: Request): Mode | undefined {
  const value = request.headers["tokenver-mode"];
  if (value === undefined) return undefined;
  const mode = (Array.isArray(value) ? value.join(",") : value).trim().toLowerCase();
  if (mode === "cookie" || mode === "bearer") return mode;
  throw new AuthError("bad_request", 'Tokenver-Mode must be "cookie" or "bearer".');
}

/** A CORS preflight: never authenticated (browsers send no credentials with it). */
export function isPreflight(request: Request): boolean {
  return (
    request.method === "OPTIONS" && request.headers.origin !== undefined && request.headers["access-control-request-method"] !== undefined
  );
}

/**
 * The origin checks of every unsafe cookie-mode request: `Origin` present (once), not `null`, and
 * one of the allowed origins (the public URL's, then `TOKENVER_ALLOWED_ORIGINS`); and no
 * `Sec-Fetch-Site: cross-site`. Then JSON only: a body must be `application/json` (a form post,
 * the classic CSRF vector, never reaches a handler). Each failure is `403 csrf_failed`.
 */
export function checkOrigin(allowedOrigins: readonly string[], request: Request): void {
  let origins = 0;
  for (let i = 0; i < request.rawHeaders.length; i += 2) if (request.rawHeaders[i]!.toLowerCase() === "origin") origins++;
  const origin = request.headers.origin;
  if (origins !== 1 || origin === undefined || origin === "null")
    throw csrfFailed("A cookie-mode request needs the Origin header of an allowed page.");
  if (!allowedOrigins.includes(origin)) throw csrfFailed("This origin is not allowed to make cookie-mode requests.");
  const site = request.headers["sec-fetch-site"];
  if (typeof site === "string" && site.trim().toLowerCase() === "cross-site")
    throw csrfFailed("Cross-site cookie-mode requests are refused.");
  if (hasBody(request) && !isJson(request.headers["content-type"]))
    throw csrfFailed("A cookie-mode request body must be application/json.");
}

function hasBody(request: Request): boolean {
  const length = request.headers["content-length"];
  return request.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  return contentType.split(";")[0]!.trim().toLowerCase() === "application/json";
}

/** The X-CSRF-Token header, once; undefined otherwise (then the check fails). */
export function csrfHeader(request: Request): string | undefined {
  const value = request.headers["x-csrf-token"];
  return typeof value === "string" ? value.trim() : undefined;
}

/**
 * The mode a request asks for, with the origin checks of an unsafe one that asks for cookies
 * (against login CSRF too): run before the body is parsed, so a form post is `403 csrf_failed`.
 */
export function checkRequestedMode(allowedOrigins: readonly string[], request: Request): Mode | undefined {
  const mode = requestedMode(request);
  if (mode === "cookie" && isUnsafe(request.method)) checkOrigin(allowedOrigins, request);
  return mode;
}
