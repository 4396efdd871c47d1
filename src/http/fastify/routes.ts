import type {} from "@fastify/swagger";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Static } from "typebox";
import type { AuthService, Principal, RequestContext } from "../../core/auth-service.js";
import { AuthError } from "../../core/errors.js";
import type { UserFields } from "../../settings.js";
import * as S from "../schemas.js";

/**
 * The endpoints of API.md section 3. Registered inside the tokenver plugin's scope, so the
 * default-deny hook covers them; the public ones say so in `config`.
 */
export async function authRoutes(app: FastifyInstance, { auth }: { auth: AuthService<UserFields> }): Promise<void> {
  const profile = auth.profileSchema;
  const user = S.userSchema(profile);
  const authResult = S.authResult(profile);
  const publicRoute = { public: true };
  const bearer = [{ bearerAuth: [] }];

  // Token-bearing and personal responses must never be cached (RFC 6749 5.1, RFC 9700).
  app.addHook("onRequest", async (_request, reply) => {
    reply.header("cache-control", "no-store").header("pragma", "no-cache");
  });

  app.post<{ Body: Record<string, unknown> & { email: string; password: string } }>(
    "/register",
    {
      config: publicRoute,
      schema: {
        tags: ["auth"],
        summary: "Create an account and its first session",
        body: S.registerBody(profile),
        response: { 201: authResult, ...S.problems(400, 409, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const result = await auth.register(request.body, contextOf(request));
      return reply.code(201).send(result);
    },
  );

  app.post<{ Body: Static<typeof S.LoginBody> }>(
    "/login",
    {
      config: publicRoute,
      schema: {
        tags: ["auth"],
        summary: "Log in: a new session and token pair",
        body: S.LoginBody,
        response: { 200: authResult, ...S.problems(400, S.LOGIN_FAILED, 413, 415, 429, 503) },
      },
    },
    async (request) => auth.login(request.body, contextOf(request)),
  );

  app.post<{ Body: Static<typeof S.RefreshBody> }>(
    "/token/refresh",
    {
      config: publicRoute,
      schema: {
        tags: ["auth"],
        summary: "Rotate a refresh token",
        description:
          "The presented refresh token becomes used. Presenting a used one again is `refresh_reused` and revokes its whole session.",
        body: S.RefreshBody,
        response: { 200: S.TokenPair, ...S.problems(400, S.REFRESH_FAILED, 413, 415, 503) },
      },
    },
    async (request) => auth.refresh(request.body.refresh),
  );

  app.post<{ Body: Static<typeof S.LogoutBody> }>(
    "/logout",
    {
      // The body is optional: an empty POST logs out with scope "all".
      preValidation: async (request) => {
        // Only a missing body: JSON `null` is still a (refused) body.
        if (request.body === undefined) request.body = {};
      },
      schema: {
        tags: ["auth"],
        summary: "Log out",
        description: "`all` (default) increments the token version and revokes every session; `session` revokes only this one.",
        security: bearer,
        body: S.LogoutBody,
        response: { 204: { type: "null", description: "Logged out" }, ...S.problems(400, 401, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      await auth.logout(principalOf(request), request.body);
      return reply.code(204).send();
    },
  );

  app.get(
    "/profile",
    { schema: { tags: ["profile"], summary: "The caller's user", security: bearer, response: { 200: user, ...S.problems(401, 503) } } },
    async (request) => auth.getUser(principalOf(request)),
  );

  app.patch<{ Body: Record<string, unknown> }>(
    "/profile",
    {
      schema: {
        tags: ["profile"],
        summary: "Update username and custom fields",
        security: bearer,
        body: S.profilePatchBody(profile),
        response: { 200: user, ...S.problems(400, 401, 413, 415, 503) },
      },
    },
    async (request) => auth.updateProfile(principalOf(request), request.body),
  );

  app.post<{ Body: Static<typeof S.PasswordBody> }>(
    "/password",
    {
      schema: {
        tags: ["auth"],
        summary: "Change the password",
        description: "Increments the token version, revokes every other session, returns a new pair for this one.",
        security: bearer,
        body: S.PasswordBody,
        response: { 200: S.TokenPair, ...S.problems(400, 401, 403, 413, 415, 429, 503) },
      },
    },
    async (request) => auth.changePassword(principalOf(request), request.body, contextOf(request)),
  );

  app.get(
    "/sessions",
    {
      schema: {
        tags: ["sessions"],
        summary: "The caller's live sessions",
        security: bearer,
        response: { 200: S.SessionList, ...S.problems(401, 503) },
      },
    },
    async (request) => ({ sessions: await auth.listSessions(principalOf(request)) }),
  );

  app.delete<{ Params: Static<typeof S.SessionParams> }>(
    "/sessions/:id",
    {
      schema: {
        tags: ["sessions"],
        summary: "Revoke one of the caller's sessions",
        security: bearer,
        params: S.SessionParams,
        response: { 204: { type: "null", description: "Revoked" }, ...S.problems(401, 404, 503) },
      },
    },
    async (request, reply) => {
      await auth.revokeSession(principalOf(request), request.params.id);
      return reply.code(204).send();
    },
  );

  app.get(
    "/health",
    {
      config: publicRoute,
      schema: { tags: ["operations"], summary: "Whether the stores answer", response: { 200: S.Health, ...S.problems(503) } },
    },
    async () => {
      await auth.health();
      return { status: "ok" as const };
    },
  );
}

/** The principal the tokenver hook put on the request; a protected route without one is a bug. */
function principalOf(request: FastifyRequest): Principal {
  const principal = request.user;
  if (principal == null) throw new AuthError("token_missing", "A bearer token is required.");
  return principal;
}

function contextOf(request: FastifyRequest): RequestContext {
  return { userAgent: request.headers["user-agent"], ip: request.ip };
}
