import { findClient } from "../../store/queries/clients.js";
import type { Core } from "../context.js";
import { AuthError, failClosed } from "../errors.js";
import type { Principal, RequestContext } from "../types.js";
import { hashClientSecret, secretMatches } from "./client-secret.js";
import { isStorableId } from "../validation.js";

/** RFC 7662 2.2: what introspection answers (docs/api.md section 7). */
export type IntrospectionResult =
  | { active: false }
  | {
      active: true;
      sub: string;
      sid: string;
      token_version: number;
      iss: string;
      exp: number;
      iat: number;
      jti: string;
      amr: string[];
      token_type: "Bearer";
    };

/**
 * `POST /introspect`: authenticates the service client (HTTP Basic, RFC 6749 2.3.1: the id and
 * secret are form-decoded after Basic decoding; `invalid_client` otherwise), throttles it, then
 * answers the token's claims when `verify` accepts it, else exactly `{active: false}` (revoked
 * included, at once; refresh tokens too). A store that does not answer is 503, never `active`.
 */
export async function introspect(
  core: Core,
  verify: (authorization: string) => Promise<Principal>,
  input: { authorization: string | undefined; token: unknown },
  context: RequestContext = {},
): Promise<IntrospectionResult> {
  const clientId = await authenticateClient(core, input.authorization, context);
  await core.throttle.countIntrospection(clientId);
  const token = input.token;
  if (typeof token !== "string" || token.length === 0 || /\s/.test(token)) return { active: false };
  let principal: Principal;
  try {
    principal = await verify(`Bearer ${token}`);
  } catch (error) {
    if (error instanceof AuthError && error.code === "service_unavailable") throw error;
    if (error instanceof AuthError) return { active: false };
    throw error;
  }
  const claims = principal.claims;
  const amr = Array.isArray(claims.amr) && claims.amr.every((m) => typeof m === "string") ? (claims.amr as string[]) : ["pwd"];
  return {
    active: true,
    sub: claims.sub,
    sid: claims.sid,
    token_version: claims.token_version,
    iss: claims.iss,
    exp: claims.exp,
    iat: claims.iat,
    jti: claims.jti,
    amr,
    token_type: "Bearer",
  };
}

async function authenticateClient(core: Core, authorization: string | undefined, context: RequestContext): Promise<string> {
  const credentials = basicCredentials(authorization);
  if (credentials === undefined) throw invalidClient();
  const row = await failClosed(() => findClient(core.db, credentials.id));
  // An unknown id is compared against a hash all the same, so it takes as long as a wrong secret.
  const matches = secretMatches(core, credentials.secret, row?.secret_hash ?? hashClientSecret(core, "tokenver: no such client"));
  if (row === undefined || !matches) {
    await core.throttle.countClientFailure(context.ip);
    throw invalidClient();
  }
  return row.id;
}

/** `Basic base64(urlencode(id):urlencode(secret))` (RFC 7617, RFC 6749 2.3.1); undefined when malformed. */
export function basicCredentials(authorization: string | undefined): { id: string; secret: string } | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization);
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  try {
    const formDecode = (value: string) => decodeURIComponent(value.replaceAll("+", " "));
    const id = formDecode(decoded.slice(0, colon));
    const secret = formDecode(decoded.slice(colon + 1));
    if (!isStorableId(id, 64) || secret.length === 0 || secret.length > 512) return undefined;
    return { id, secret };
  } catch {
    return undefined;
  }
}

function invalidClient(): AuthError {
  return new AuthError("invalid_client", "A valid service client is required (HTTP Basic).");
}
