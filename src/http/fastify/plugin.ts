import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import fp from "fastify-plugin";
import type { Auth } from "../../core/auth.js";
import type { UserFields } from "../../core/config.js";
import type { Principal } from "../../core/types.js";
import { createAuth } from "../../create-auth.js";
import type { AuthOptions } from "../../settings/table.js";
import { checkRoutesOption, pluginError, type RoutesOption } from "../adapter-options.js";
import { strictValidatorCompiler } from "../body-validator.js";
import { authorizationOf } from "../authorization.js";
import { acceptJsonOnly } from "./json-body.js";
import { problemErrorHandler, sendProblem } from "./reply.js";
import { authRoutes } from "./routes.js";

declare module "fastify" {
  interface FastifyRequest {
    /**
     * The authenticated principal `{userId, sessionId, tokenVersion, claims}`: set on every
     * protected route before any handler runs. Public routes are not authenticated, so there it
     * is `null` (it is typed for the protected routes, which are the default). Custom user fields
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
const KNOWN_KEYS = new Set(["auth", "options", "routes"]);

/**
 * Default deny: every route of the scope this plugin is registered in requires a valid,
 * unrevoked access token, unless it declares `config: { public: true }`. The per-request cost
 * is one `auth.verify()`: no user row is read unless a handler asks for it.
 */
const tokenver: FastifyPluginAsync<TokenverPluginOptions> = async (app: FastifyInstance, options) => {
  const { routes, prefix } = checkPluginOptions(options);
  const auth = options.auth ?? (await createAuth(options.options));
  if (options.auth === undefined) app.addHook("onClose", () => auth.close());

  app.decorate("tokenver", auth);
  app.decorateRequest("user", null as unknown as Principal);

  app.addHook("onRequest", async (request, reply) => {
    if (request.is404 || request.routeOptions.config?.public === true) return;
    try {
      request.user = await auth.verify(authorizationOf(request.raw));
    } catch (error) {
      // Sent here, not thrown: the application's own error handler must not reshape a 401.
      return sendProblem(reply, error);
    }
  });

  if (routes) {
    await app.register(
      async (scope) => {
        hardenScope(scope);
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
function hardenScope(scope: FastifyInstance): void {
  scope.setValidatorCompiler(strictValidatorCompiler);
  scope.setErrorHandler(problemErrorHandler);
  acceptJsonOnly(scope);
}

/** Fails registration with a TypeError naming the option, never later at request time. */
function checkPluginOptions(options: TokenverPluginOptions): { routes: boolean; prefix: string | undefined } {
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
  return checkRoutesOption(options.routes);
}

export const tokenverPlugin = fp(tokenver, { fastify: "5.x", name: "tokenver" });
export default tokenverPlugin;
export { problemErrorHandler, sendProblem };
export { problemClientErrorHandler } from "./client-error.js";
export type { Principal, RoutesOption };
