/**
 * Every failure a caller can switch on has a stable `code` and the HTTP `status` that docs/api.md
 * assigns to it. Messages are fixed per code and never carry a token, a secret or store details.
 */
export const ERRORS = {
  validation_failed: { status: 400, title: "Validation failed" },
  bad_request: { status: 400, title: "Bad request" },
  token_missing: { status: 401, title: "Token missing" },
  token_invalid: { status: 401, title: "Token invalid" },
  token_expired: { status: 401, title: "Token expired" },
  token_revoked: { status: 401, title: "Token revoked" },
  refresh_reused: { status: 401, title: "Refresh token reused" },
  invalid_credentials: { status: 401, title: "Invalid credentials" },
  not_found: { status: 404, title: "Not found" },
  email_taken: { status: 409, title: "Email taken" },
  payload_too_large: { status: 413, title: "Payload too large" },
  unsupported_media_type: { status: 415, title: "Unsupported media type" },
  rate_limited: { status: 429, title: "Too many requests" },
  internal_error: { status: 500, title: "Internal error" },
  service_unavailable: { status: 503, title: "Service unavailable" },
  // v2 (docs/api.md section 4). `code_invalid` is 400 while enrolling, 401 at sign-in and 403 when
  // turning the factor off: the default here, the others passed as `status`.
  link_invalid: { status: 400, title: "Link invalid" },
  code_invalid: { status: 400, title: "Code invalid" },
  csrf_failed: { status: 403, title: "CSRF check failed" },
  mfa_required: { status: 403, title: "Second factor required" },
  email_unverified: { status: 403, title: "Email not verified" },
  account_disabled: { status: 403, title: "Account disabled" },
  forbidden: { status: 403, title: "Forbidden" },
  mfa_token_invalid: { status: 401, title: "Second-factor token invalid" },
  invalid_client: { status: 401, title: "Invalid client" },
  mfa_enabled: { status: 409, title: "Second factor already enabled" },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export interface FieldError {
  field: string;
  message: string;
}

export interface AuthErrorOptions {
  /** Overrides the status of the code (403 `invalid_credentials` on a wrong current password). */
  status?: number;
  /** True when the client presented a token: the 401 then carries `error="invalid_token"`. */
  tokenPresented?: boolean;
  errors?: FieldError[];
  /** Seconds, for 429. */
  retryAfter?: number;
  cause?: unknown;
  /** Extra members of the problem document (`mfa_token` of `mfa_required`); never a standard member's name. */
  members?: Record<string, string>;
}

/** The one error class of tokenver. Switch on `code`; `status` is the HTTP status to answer. */
export class AuthError extends Error {
  override readonly name = "AuthError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly tokenPresented: boolean;
  readonly errors: FieldError[] | undefined;
  readonly retryAfter: number | undefined;
  readonly members: Readonly<Record<string, string>> | undefined;

  constructor(code: ErrorCode, detail?: string, options: AuthErrorOptions = {}) {
    super(detail ?? ERRORS[code].title, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? ERRORS[code].status;
    this.tokenPresented = options.tokenPresented ?? false;
    this.errors = options.errors;
    this.retryAfter = options.retryAfter;
    this.members = options.members;
  }
}

/** A store (database, Redis) did not answer. Always surfaces as 503: fail closed. */
export function unavailable(cause: unknown): AuthError {
  return new AuthError("service_unavailable", "A backing store did not answer; try again later.", { cause });
}

export function isAuthError(error: unknown): error is AuthError {
  return error instanceof AuthError;
}

/** Runs a store call: anything but an AuthError becomes 503 (fail closed, no details leak). */
export async function failClosed<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof AuthError) throw error;
    throw unavailable(error);
  }
}

/** The body did not pass the domain's checks. */
export function validationFailed(errors: FieldError[]): AuthError {
  return new AuthError("validation_failed", "The request body is invalid.", { errors });
}
