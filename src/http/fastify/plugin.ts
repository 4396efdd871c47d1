import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Auth } from "../../core/auth.js";
import type { UserFields } from "../../core/config.js";
import type { Principal } from "../../core/types.js";
import { createAuth } from "../../create-auth.js";
import type { AuthOptions } from "../../settings/table.js";
import { checkRoutesOption, pluginError, type RoutesOption } from "../adapter-options.js";
import { strictValidatorCompiler } from "../body-validator.js";
import { authorizationOf } from "../authorization.js";
import { PRINCIPAL, requirePrincipal, setPrincipal } from "../principal.js";
import { acceptJsonOnly } from "./json-body.js";
import { checkErrorsOption, type ErrorResponse, type ErrorsOption } from "../error-rendering.js";
import { problemErrorHandler, sendError, sendProblem } from "./reply.js";
import { authRoutes } from "./routes.js";

declare module "fastify" {
  interface FastifyRequest {
    /**
     * The authenticated principal `{userId, sessionId, tokenVersion, amr, claims}`, verified before any
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

  app.addHook("onRequest", async (request, reply) => {
    if (request.is404 || request.routeOptions.config?.public === true) return;
    try {
      setPrincipal(request, await auth.verify(authorizationOf(request.raw)));
    } catch (error) {
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
