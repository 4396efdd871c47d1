import type { ErrorCode } from "../core/errors.js";

export type { ErrorCode };

/** The problem+json body of every tokenver error (RFC 9457), as the API sends it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: { field: string; message: string }[];
  mfa_token?: string;
  [member: string]: unknown;
}

/**
 * What every client method rejects with when the API answers an error: switch on `code`, the
 * API's own (docs/api.md section 4). A network failure rejects with fetch's own `TypeError`.
 *
 * @example
 * try { await client.signIn({ email, password }) }
 * catch (error) { if (error instanceof TokenverError && error.code === "rate_limited") wait(error.retryAfter) }
 */
export class TokenverError extends Error {
  override readonly name = "TokenverError";
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds, from `Retry-After` (429 and 503). */
  readonly retryAfter: number | undefined;
  readonly problem: Problem;

  constructor(problem: Problem, retryAfter?: number) {
    super(problem.detail || problem.title);
    this.code = problem.code;
    this.status = problem.status;
    this.retryAfter = retryAfter;
    this.problem = problem;
  }
}

/** Reads an error response; an answer that is not problem+json still becomes a TokenverError. */
export async function errorOf(response: Response): Promise<TokenverError> {
  let problem: Problem | undefined;
  try {
    const body = (await response.json()) as Problem;
    if (typeof body?.code === "string") problem = body;
  } catch {
    problem = undefined;
  }
  problem ??= {
    type: "about:blank",
    title: response.statusText || "Error",
    status: response.status,
    detail: `The server answered ${response.status}.`,
    code: response.status >= 500 ? "service_unavailable" : "bad_request",
  };
  const retryAfter = Number(response.headers.get("retry-after"));
  return new TokenverError(problem, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined);
}
