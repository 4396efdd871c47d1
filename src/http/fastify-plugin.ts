import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import fp from "fastify-plugin";
import type { AuthService, Principal } from "../core/auth-service.js";
import type { UserFields } from "../core/options.js";
import { problemErrorHandler, sendProblem } from "./reply.js";
import { authRoutes } from "./routes.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated principal; null on public routes. */
    user: Principal | null;
  }
  interface FastifyContextConfig {
    /** Opt this route out of authentication (every other route of the scope requires a token). */
    public?: boolean;
  }
  interface FastifyInstance {
    /** The tokenver auth service the plugin was registered with. */
    tokenver: AuthService<UserFields>;
  }
}

export interface TokenverPluginOptions {
  /** The service from `createAuth()`. */
  auth: AuthService<any>;
  /** Mount the endpoints of API.md: `true` (default) at the root, `{ prefix: "/auth" }`, or `false`. */
  routes?: boolean | { prefix?: string };
}

/**
 * Default deny: every route of the scope this plugin is registered in requires a valid,
 * unrevoked access token, unless it declares `config: { public: true }`.
 */
const tokenver: FastifyPluginAsync<TokenverPluginOptions> = async (app: FastifyInstance, options) => {
  const auth = options?.auth;
  if (auth === undefined || typeof auth.verify !== "function") {
    throw new TypeError("tokenver: the Fastify plugin needs { auth } from createAuth()");
  }
  const routes = options.routes ?? true;
  if (typeof routes !== "boolean" && (typeof routes !== "object" || routes === null)) {
    throw new TypeError("tokenver: routes must be a boolean or { prefix }");
  }

  app.decorate("tokenver", auth);
  app.decorateRequest("user", null);

  app.addHook("onRequest", async (request, reply) => {
    if (request.is404 || request.routeOptions.config?.public === true) return;
    try {
      request.user = await auth.verify(request.headers.authorization);
    } catch (error) {
      return sendProblem(reply, error);
    }
  });

  if (routes !== false) {
    const prefix = typeof routes === "object" ? routes.prefix : undefined;
    await app.register(
      async (scope) => {
        scope.setErrorHandler(problemErrorHandler);
        await authRoutes(scope, { auth });
      },
      prefix === undefined ? {} : { prefix },
    );
  }
};

export const tokenverPlugin = fp(tokenver, { fastify: "5.x", name: "tokenver" });
export default tokenverPlugin;
export { problemErrorHandler, sendProblem };
export type { Principal };
