import { AuthError } from "../core/errors.js";
import { pluginError } from "./adapter-options.js";
import { fromFrameworkError, toProblem, type ProblemResponse } from "./problem.js";

/** What an adapter sends for an error. A body that is not a string is sent as JSON. */
export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/**
 * How the adapters answer tokenver's own errors (the guard's 401s, the mounted endpoints' 4xx/5xx):
 *
 * - `"problem+json"` (default): RFC 9457 problem+json, sent by tokenver itself.
 * - `"app"`: handed to the application's error handler (Fastify's `setErrorHandler`, Express's
 *   error middleware) as an `AuthError` (`status`, `code`, `message`; `toProblem(error)` gives
 *   the problem document), with the protocol headers (`WWW-Authenticate`, `Retry-After`) already
 *   set on the response.
 * - a function: given the problem response tokenver would send (and the `AuthError`), returns
 *   the status, headers and body to send instead (keep `problem.headers`' `www-authenticate`).
 */
export type ErrorsOption = "problem+json" | "app" | ((problem: ProblemResponse, error: AuthError) => ErrorResponse);

/** Validates `errors`; a bad value is a TypeError at registration. */
export function checkErrorsOption(value: unknown): ErrorsOption {
  if (value === undefined) return "problem+json";
  if (value === "problem+json" || value === "app" || typeof value === "function") return value as ErrorsOption;
  throw pluginError('errors must be "problem+json", "app" or a function (problem, error) => { status, headers, body }');
}

/** Any error as the AuthError the contract maps it to (framework errors by their status; anything else 500). */
export function asAuthError(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  const mapped = fromFrameworkError(error);
  return new AuthError(mapped.code, mapped.message, {
    status: mapped.status,
    errors: mapped.errors,
    retryAfter: mapped.retryAfter,
    cause: error,
  });
}

/** The headers of a response that belong to the protocol, whatever the body's format. */
export function protocolHeaders(error: AuthError): Record<string, string> {
  const { "content-type": _contentType, ...headers } = toProblem(error).headers;
  return headers;
}

/**
 * The response for an error under a rendering option other than `"app"`. A renderer that throws
 * or returns something unusable falls back to the problem document: an error path must answer.
 */
export function renderError(
  option: Exclude<ErrorsOption, "app">,
  error: unknown,
): { status: number; headers: Record<string, string>; payload: string } {
  const problem = toProblem(error);
  const fallback = { status: problem.status, headers: problem.headers, payload: JSON.stringify(problem.body) };
  if (option === "problem+json") return fallback;
  try {
    const rendered = option(problem, asAuthError(error));
    if (typeof rendered?.status !== "number" || rendered.status < 400 || rendered.status > 599) return fallback;
    const headers = { "content-type": "application/json", ...lowerCased(rendered.headers ?? {}) };
    const payload = typeof rendered.body === "string" ? rendered.body : JSON.stringify(rendered.body);
    return { status: rendered.status, headers, payload };
  } catch {
    return fallback;
  }
}

function lowerCased(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
