import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Auth } from "../../core/auth.js";
import type { UserFields } from "../../core/config.js";
import type { Principal } from "../../core/types.js";
import { createAuth } from "../../create-auth.js";
import type { AuthOptions } from "../../settings/table.js";
import { checkRoutesOption, pluginError, type RoutesOption } from "../adapter-options.js";
import { strictValidatorCompiler } from "../body-validator.js";
import fastifyCookie from "@fastify/cookie";
import fastifyCors from "@fastify/cors";
import { CORS_ALLOWED_HEADERS, CORS_MAX_AGE, CORS_METHODS, corsOrigins } from "../browser/cors.js";
import { authenticate, setAuthMode } from "../authorization.js";
import { cookiesOnFailure } from "../browser/answer.js";
import type { AnyEndpoint } from "../endpoint.js";
import { PRINCIPAL, requirePrincipal, setPrincipal } from "../principal.js";
import { acceptJsonOnly } from "./json-body.js";
import { checkErrorsOption, type ErrorResponse, type ErrorsOption } from "../error-rendering.js";
import { problemErrorHandler, sendError, sendProblem } from "./reply.js";
import { authRoutes } from "./routes.js";

declare module "fastify" {
  interface FastifyRequest {
    /**
     * The authenticated principal `{userId, sessionId, tokenVersion, claims}`, verified before any
     * handler of a protected route runs. Where no token was verified (a route with
     * `config: { public: true }`, or outside the plugin's scope), reading it throws a 401
     * `AuthError` (`token_missing`): it is never a `null` typed as a principal. Custom user fields
     * are loaded on demand, typed by your `auth`: `await auth.getUser(request.user)`.
     */
    user: Principal;
  }
  interface FastifyContextConfig {
    /** Opt this route out of authentication (every other route of the scope requires a token). */
    public?: boolean;
    /** @internal The endpoint row of a tokenver route, and where it is mounted (cookie mode). */
    tokenver?: { row: AnyEndpoint; mountPath: string };
  }
  interface FastifyInstance {
    /** The tokenver auth service the plugin was registered with (or created). */
    tokenver: Auth<UserFields>;
  }
}

interface CommonOptions {
  /** The endpoints of docs/api.md section 3: `true` (default) at the scope's root, `{ prefix: "/auth" }`, or `false`. */
  routes?: RoutesOption;
  /**
   * How tokenver's errors (the 401s of this plugin, the endpoints' errors) are answered:
   * `"problem+json"` (default), `"app"` (thrown to your `setErrorHandler` as an `AuthError`), or
   * a function `(problem, error) => ({ status, headers, body })` rendering your format.
   */
  errors?: ErrorsOption;
}

export type TokenverPluginOptions =
  | (CommonOptions & {
      /** A service from `createAuth()`; you own it and close it. Its type carries your custom user fields. */
      auth: Auth<any>;
      options?: never;
    })
  | (CommonOptions & {
      /** Options for `createAuth()`: the plugin creates the service and closes it with the app. */
      options: AuthOptions<any>;
      auth?: never;
    });

// Fastify's own register options; anything else unknown is a typo worth failing on.
const FASTIFY_KEYS = new Set(["logLevel", "logSerializers"]);
const KNOWN_KEYS = new Set(["auth", "options", "routes", "errors"]);

/**
 * Default deny: every route of the scope this plugin is registered in requires a valid,
 * unrevoked access token, unless it declares `config: { public: true }`. The per-request cost
 * is one `auth.verify()`: no user row is read unless a handler asks for it.
 */
const tokenver: FastifyPluginAsync<TokenverPluginOptions> = async (app: FastifyInstance, options) => {
  const { routes, prefix, errors } = checkPluginOptions(options);
  // Twice in one scope (or in a scope and its child) would verify every request twice.
  if (app.hasDecorator("tokenver") || app.hasRequestDecorator("user")) {
    throw pluginError(
      "is already registered in this scope or a parent scope (or another plugin declares request.user): register it once, in the scope whose routes it protects",
    );
  }
  const auth = options.auth ?? (await createAuth(options.options));
  if (options.auth === undefined) app.addHook("onClose", () => auth.close());

  app.decorate("tokenver", auth);
  app.decorateRequest(PRINCIPAL, null);
  app.decorateRequest("user", {
    getter(this: FastifyRequest) {
      return requirePrincipal(this);
    },
    setter(this: FastifyRequest, principal: Principal) {
      setPrincipal(this, principal);
    },
  });

  // Cookie mode's cookies are set with @fastify/cookie (and read by authorization.ts, which
  // refuses duplicates). Registered here unless the application did; `request.cookies` is then
  // the application's too.
  if (!app.hasReplyDecorator("setCookie")) await app.register(fastifyCookie);

  // CORS for the origins of TOKENVER_ALLOWED_ORIGINS (docs/api.md section 6), before the
  // authentication hook: preflights (which carry no credentials) are answered there, and a 401 to
  // an allowed origin carries the headers that let its page read it. Exact origins echoed with
  // Vary: Origin and credentials, never a wildcard; a row with `cors: false` opts out.
  const origins = corsOrigins(auth.browser.allowedOrigins);
  if (origins !== undefined) {
    await app.register(fastifyCors, {
      origin: origins,
      credentials: true,
      methods: CORS_METHODS,
      allowedHeaders: CORS_ALLOWED_HEADERS,
      maxAge: CORS_MAX_AGE,
    });
  }

  app.addHook("onRequest", async (request, reply) => {
    if (request.is404 || request.routeOptions.config?.public === true) return;
    try {
      const { principal, mode } = await authenticate(auth, request.raw);
      setPrincipal(request, principal);
      setAuthMode(request, mode);
    } catch (error) {
      // POST /logout expires the cookies even when it answers 401 (docs/api.md section 6).
      const route = request.routeOptions.config?.tokenver;
      for (const c of cookiesOnFailure(route?.row, auth, route?.mountPath ?? "")) reply.setCookie(c.name, c.value, c.options);
      // Sent here, not thrown (unless errors: "app"): the application's own error handler must
      // not reshape a 401 it was not asked to render.
      return sendError(reply, error, errors);
    }
  });

  if (routes) {
    await app.register(
      async (scope) => {
        hardenScope(scope, errors);
        await authRoutes(scope, { auth });
      },
      prefix === undefined ? {} : { prefix },
    );
  }
};

/**
 * The mounted endpoints behave as in the tokenver server whatever the application configured:
 * no type coercion, unknown keys dropped, JSON only (415 otherwise), 64 KiB bodies (413),
 * an empty body is no body, and every error is problem+json.
 */
function hardenScope(scope: FastifyInstance, errors: ErrorsOption): void {
  scope.setValidatorCompiler(strictValidatorCompiler);
  // Framework errors (validation, 415, 413) become the contract's AuthErrors first, whatever renders them.
  scope.setErrorHandler((error, _request, reply) => sendError(reply, error, errors));
  acceptJsonOnly(scope);
}

/** Fails registration with a TypeError naming the option, never later at request time. */
function checkPluginOptions(options: TokenverPluginOptions): { routes: boolean; prefix: string | undefined; errors: ErrorsOption } {
  if (options === null || typeof options !== "object") throw pluginError("options must be an object with { auth } or { options }");
  for (const key of Object.keys(options)) {
    if (key === "prefix") throw pluginError("prefix is not an option of this plugin: use routes: { prefix } for the endpoints");
    if (!KNOWN_KEYS.has(key) && !FASTIFY_KEYS.has(key)) throw pluginError(`unknown option ${key}`);
  }
  const hasAuth = options.auth !== undefined;
  const hasOptions = options.options !== undefined;
  if (hasAuth === hasOptions) throw pluginError("needs exactly one of { auth } (from createAuth()) or { options } (for createAuth())");
  if (hasAuth && (typeof options.auth !== "object" || options.auth === null || typeof options.auth.verify !== "function")) {
    throw pluginError("auth must be the service from createAuth()");
  }
  if (hasOptions && (typeof options.options !== "object" || options.options === null)) throw pluginError("options must be an object");
  return { ...checkRoutesOption(options.routes), errors: checkErrorsOption(options.errors) };
}

export const tokenverPlugin = fp(tokenver, { fastify: "5.x", name: "tokenver" });
export default tokenverPlugin;
export { problemErrorHandler, sendProblem };
export { problemClientErrorHandler } from "./client-error.js";
export type { Principal, RoutesOption, ErrorsOption, ErrorResponse };
