/**
 * CORS of the endpoints (docs/api.md section 6), from TOKENVER_ALLOWED_ORIGINS: the same rules for
 * @fastify/cors (Fastify) and the small exact implementation of the Express guard.
 */
export const CORS_ALLOWED_HEADERS = ["Authorization", "Content-Type", "Tokenver-Mode", "X-CSRF-Token"];
export const CORS_METHODS = ["GET", "HEAD", "POST", "PATCH", "DELETE"];
/** Seconds a browser may cache a preflight answer. */
export const CORS_MAX_AGE = 600;

/**
 * The origins CORS answers for, or undefined for none: with no allowed origin beyond the public
 * URL's, the page is same-origin and needs no CORS at all.
 */
export function corsOrigins(allowedOrigins: readonly string[]): string[] | undefined {
  return allowedOrigins.length > 1 ? allowedOrigins.slice(1) : undefined;
}
