import { randomUUID } from "node:crypto";

/** What a caller's `X-Request-Id` must look like to be kept (docs/api.md section 10). */
const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * The id of a request: the caller's `X-Request-Id` when it is one plain value of the allowed
 * characters (so it is safe in a header and a log line), a new random UUID otherwise.
 */
export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID();
}
