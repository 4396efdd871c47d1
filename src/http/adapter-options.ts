/** Option checks shared by the Fastify plugin and the Express adapter. */

/** Where to mount the endpoints of the API (register, login, ...): `true` at the root, `{ prefix: "/auth" }`, or `false` for none. */
export type RoutesOption = boolean | { prefix?: string };

/** Validates `routes`; a bad value is a TypeError at registration, never a surprise at request time. */
export function checkRoutesOption(routes: unknown): { routes: boolean; prefix: string | undefined } {
  if (routes === undefined || routes === true) return { routes: true, prefix: undefined };
  if (routes === false) return { routes: false, prefix: undefined };
  if (typeof routes !== "object" || routes === null || Array.isArray(routes)) throw pluginError("routes must be true, false or { prefix }");
  for (const key of Object.keys(routes)) if (key !== "prefix") throw pluginError(`unknown option routes.${key}`);
  const prefix = (routes as { prefix?: unknown }).prefix;
  if (prefix === undefined || prefix === "/") return { routes: true, prefix: undefined };
  if (typeof prefix !== "string" || !/^(\/[A-Za-z0-9\-._~!$&'()*+,;=:@]+)+$/.test(prefix)) {
    throw pluginError('routes.prefix must be a path such as "/auth" (leading slash, no trailing slash)');
  }
  return { routes: true, prefix };
}

export function pluginError(message: string): TypeError {
  return new TypeError(`tokenver: ${message}`);
}
