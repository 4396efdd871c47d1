import type { IncomingMessage } from "node:http";
import { AuthError } from "../core/errors.js";

/**
 * The request's one `Authorization` value. Node keeps only the first of repeated lines, so which
 * credentials count would depend on their order: two lines are refused instead (RFC 6750 3.1).
 */
export function authorizationOf(request: IncomingMessage): string | undefined {
  const raw = request.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 13 && name.toLowerCase() === "authorization") seen++;
  }
  if (seen > 1) throw new AuthError("token_invalid", "Send one Authorization header.", { tokenPresented: true });
  return request.headers.authorization;
}
