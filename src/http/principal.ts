import { AuthError } from "../core/errors.js";
import type { Principal } from "../core/types.js";

/**
 * Where the adapters keep the principal they verified. `request.user` (Fastify) and `req.user`
 * (Express) read it through an accessor typed `Principal` that tells the truth: it returns the
 * principal, or throws a 401 where no token was verified (a public route, or a route outside the
 * plugin's scope or before the guard) instead of handing the route a `null` typed as a principal.
 */
export const PRINCIPAL: unique symbol = Symbol("tokenver.principal");

interface WithPrincipal {
  [PRINCIPAL]?: Principal | null | undefined;
}

/** The principal verified for this request, or undefined where none was. */
export function principalOf(request: object): Principal | undefined {
  return (request as WithPrincipal)[PRINCIPAL] ?? undefined;
}

export function setPrincipal(request: object, principal: Principal): void {
  (request as WithPrincipal)[PRINCIPAL] = principal;
}

/** `request.user`'s read: the principal, or a 401 that says why there is none. */
export function requirePrincipal(request: object): Principal {
  const principal = principalOf(request);
  if (principal === undefined) {
    throw new AuthError(
      "token_missing",
      "No token was verified for this route: it is public or not protected by tokenver. Call auth.verify() for optional authentication.",
    );
  }
  return principal;
}
