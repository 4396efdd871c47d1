import { AuthError, ERRORS, type ErrorCode, type FieldError } from "../core/errors.js";
import { BODY_LIMIT_BYTES } from "../core/limits.js";

/** An RFC 9457 problem document, as every tokenver error response carries it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: FieldError[];
  /** `mfa_required` carries the sign-in's `mfa_token` (docs/api.md section 9). */
  mfa_token?: string;
}

export interface ProblemResponse {
  status: number;
  headers: Record<string, string>;
  body: Problem;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";
export const REALM = "tokenver";

/** Stable type URI per code; clients switch on `code`, humans read `title` and `detail`. */
export const problemType = (code: ErrorCode): string => `urn:tokenver:problem:${code}`;

/**
 * The one mapping from any error to a response. Anything that is not an AuthError or a known
 * framework error is a 500 with a fixed text: no message, stack, SQL or path ever leaves.
 */
export function toProblem(error: unknown): ProblemResponse {
  const authError = error instanceof AuthError ? error : fromFrameworkError(error);
  const status = authError.status;
  const body: Problem = {
    type: problemType(authError.code),
    title: ERRORS[authError.code].title,
    status,
    detail: authError.message,
    code: authError.code,
  };
  if (authError.errors !== undefined) body.errors = authError.errors;
  // Extra members (the `mfa_token` of `mfa_required`), never in place of a standard one.
  for (const [name, value] of Object.entries(authError.members ?? {}))
    if (!Object.hasOwn(body, name)) (body as unknown as Record<string, unknown>)[name] = value;
  const headers: Record<string, string> = { "content-type": PROBLEM_CONTENT_TYPE };
  if (status === 401 && authError.code === "invalid_client") {
    // Introspection authenticates service clients with HTTP Basic (docs/api.md section 7).
    headers["www-authenticate"] = `Basic realm="${REALM}"`;
  } else if (status === 401) {
    // RFC 6750 section 3: error attributes only when a token was presented.
    headers["www-authenticate"] = authError.tokenPresented
      ? `Bearer realm="${REALM}", error="invalid_token", error_description="${quotable(authError.message)}"`
      : `Bearer realm="${REALM}"`;
  }
  if (authError.retryAfter !== undefined) headers["retry-after"] = String(authError.retryAfter);
  return { status, headers, body };
}

interface FrameworkError {
  name?: unknown;
  code?: unknown;
  statusCode?: unknown;
  validation?: Array<{ instancePath?: string; message?: string; params?: Record<string, unknown> }>;
  validationContext?: string;
}

/** Maps Fastify's (and body-parser's) own errors to codes of the contract. */
export function fromFrameworkError(error: unknown): AuthError {
  const e = (error ?? {}) as FrameworkError;
  if (Array.isArray(e.validation)) {
    const errors = e.validation.map((v) => ({ field: fieldOf(v), message: v.message ?? "is invalid" }));
    return new AuthError("validation_failed", "The request is invalid.", { errors });
  }
  // A schema validator that throws (a RangeError: the call stack overflowed on a body nested
  // thousands of levels deep) was defeated by the body, not by the server: 400, not 500.
  if (e.code === "FST_ERR_VALIDATION" && e.name === "RangeError") {
    return new AuthError("bad_request", "The request body is nested too deeply.", { status: 400 });
  }
  const status = typeof e.statusCode === "number" ? e.statusCode : 500;
  if (status === 413) return new AuthError("payload_too_large", `The request body is larger than ${BODY_LIMIT_BYTES / 1024} KiB.`);
  if (status === 415) return new AuthError("unsupported_media_type", "Send the request body as application/json.");
  if (status === 404) return new AuthError("not_found", "Not found.");
  if (status >= 400 && status < 500) return new AuthError("bad_request", "The request could not be parsed.", { status: 400 });
  if (status === 503) return new AuthError("service_unavailable", "Try again later.");
  return new AuthError("internal_error", "The server could not handle the request.");
}

/** The dotted field name of a schema error (its path, plus the missing property if any). */
export function fieldOf(v: { instancePath?: string; params?: Record<string, unknown> }): string {
  const path = (v.instancePath ?? "").replace(/^\//, "").replaceAll("/", ".");
  const missing = v.params?.missingProperty;
  if (typeof missing === "string") return path ? `${path}.${missing}` : missing;
  return path;
}

/** error_description is a quoted-string of printable ASCII without `"` or `\` (RFC 6750, 3). */
function quotable(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, "");
}
