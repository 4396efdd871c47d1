import express from "express";
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response, Router } from "express";
import type { TSchema } from "typebox";
import type { AuthService, Principal, RequestContext, User } from "../../core/auth-service.js";
import { AuthError } from "../../core/errors.js";
import { BODY_LIMIT, checkRoutesOption, pluginError, type RoutesOption } from "../adapter-options.js";
import { compileBodyCheck, validationError } from "../body-validator.js";
import { authorizationOf } from "../authorization.js";
import { toProblem } from "../problem.js";
import * as S from "../schemas.js";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * The authenticated principal `{userId, sessionId, tokenVersion, claims}`: set for every
       * request that passed the tokenver guard. Routes of `guard.public` are not authenticated,
       * so there it is undefined (it is typed for the protected routes, which are the default).
       * Custom user fields are loaded on demand, typed by your `auth`: `await auth.getUser(req.user)`.
       */
      user: Principal;
    }
  }
}

export interface TokenverExpressOptions {
  /** The service from `createAuth()`; its type carries your custom user fields. */
  auth: AuthService<any>;
  /** The endpoints of API.md section 3: `true` (default) at the mount point, `{ prefix: "/auth" }`, or `false`. */
  routes?: RoutesOption;
}

/**
 * The guard: an Express router to `app.use()` before your routes. Everything after it requires
 * a valid, unrevoked access token (default deny); a route opts out by being declared on
 * `guard.public` instead of the app.
 */
export interface TokenverGuard extends Router {
  /** Routes declared here are public: they run before authentication and need no token. */
  readonly public: Router;
}

/**
 * Default deny for Express. Express picks a route only after every `app.use()` middleware before
 * it has run, so a middleware cannot ask the route whether it is public. The guard therefore
 * owns the public routes: it first offers the request to them (and to the public endpoints),
 * then authenticates, and only then lets the request through to the application. Anything
 * mounted after the guard (routes, routers, static files) is protected without being marked.
 *
 * ```ts
 * const guard = tokenver({ auth, routes: { prefix: "/auth" } });
 * guard.public.get("/health", (req, res) => { res.json({ ok: true }) });
 * app.use(guard);
 * app.get("/notes", (req, res) => { res.json(notesOf(req.user.userId)) });
 * app.use(problemHandler);
 * ```
 */
export function tokenver(options: TokenverExpressOptions): TokenverGuard {
  const { auth, routes, prefix } = checkOptions(options);
  const guard = express.Router();
  const publicRoutes = express.Router();
  const mount = (router: Router) => (prefix === undefined ? guard.use(router) : guard.use(prefix, router));
  if (routes) mount(publicEndpoints(auth));
  guard.use(publicRoutes);
  guard.use(authenticate(auth));
  if (routes) mount(protectedEndpoints(auth));
  return Object.assign(guard, { public: publicRoutes });
}

/** An Express error handler that renders every error as the same problem+json as the server. */
export const problemHandler: ErrorRequestHandler = (error: unknown, _req: Request, res: Response, next: NextFunction) => {
  if (res.headersSent) return next(error);
  sendProblem(res, error);
};

/** Sends any error as problem+json (RFC 9457): AuthError codes as they are, anything else 500. */
export function sendProblem(res: Response, error: unknown): void {
  // A failure after the response started cannot be reported to the client any more.
  if (res.headersSent) {
    res.end();
    return;
  }
  const problem = toProblem(error);
  res.status(problem.status).set(problem.headers).send(JSON.stringify(problem.body));
}

/** One `auth.verify()` per request: no user row is read unless a handler asks for it. */
function authenticate(auth: AuthService<any>): RequestHandler {
  return (req, res, next) => {
    new Promise<string | undefined>((resolve) => resolve(authorizationOf(req)))
      .then((authorization) => auth.verify(authorization))
      .then(
        (principal) => {
          req.user = principal;
          next();
        },
        (error: unknown) => sendProblem(res, error),
      )
      .catch(next);
  };
}

function checkOptions(options: TokenverExpressOptions): { auth: AuthService<any>; routes: boolean; prefix: string | undefined } {
  if (options === null || typeof options !== "object") throw pluginError("tokenver() needs { auth } from createAuth()");
  for (const key of Object.keys(options)) if (key !== "auth" && key !== "routes") throw pluginError(`unknown option ${key}`);
  const auth = options.auth;
  if (typeof auth !== "object" || auth === null || typeof auth.verify !== "function")
    throw pluginError("auth must be the service from createAuth()");
  return { auth, ...checkRoutesOption(options.routes) };
}

// -------------------------------------------------------------------------------------------------
// The endpoints of API.md section 3, on the same AuthService methods as the Fastify routes, with
// the same request schemas (no coercion, unknown keys dropped) and the same errors.

function publicEndpoints(auth: AuthService<any>): Router {
  const router = express.Router();
  const toUser = userView(auth);
  router.post(
    "/register",
    noStore,
    json(S.registerBody(auth.profileSchema)),
    handle(async (req, res) => {
      const result = await auth.register(req.body, contextOf(req));
      res.status(201).json({ ...result, user: toUser(result.user) });
    }),
  );
  router.post(
    "/login",
    noStore,
    json(S.LoginBody),
    handle(async (req, res) => {
      const result = await auth.login(req.body, contextOf(req));
      res.json({ ...result, user: toUser(result.user) });
    }),
  );
  router.post(
    "/token/refresh",
    noStore,
    json(S.RefreshBody),
    handle(async (req, res) => {
      res.json(await auth.refresh(req.body.refresh));
    }),
  );
  router.get(
    "/health",
    noStore,
    handle(async (_req, res) => {
      await auth.health();
      res.json({ status: "ok" });
    }),
  );
  return router;
}

function protectedEndpoints(auth: AuthService<any>): Router {
  const router = express.Router();
  const toUser = userView(auth);
  router.post(
    "/logout",
    noStore,
    json(S.LogoutBody, { optional: true }),
    handle(async (req, res) => {
      await auth.logout(req.user, req.body);
      res.status(204).end();
    }),
  );
  router.get(
    "/profile",
    noStore,
    handle(async (req, res) => {
      res.json(toUser(await auth.getUser(req.user)));
    }),
  );
  router.patch(
    "/profile",
    noStore,
    json(S.profilePatchBody(auth.profileSchema)),
    handle(async (req, res) => {
      res.json(toUser(await auth.updateProfile(req.user, req.body)));
    }),
  );
  router.post(
    "/password",
    noStore,
    json(S.PasswordBody),
    handle(async (req, res) => {
      res.json(await auth.changePassword(req.user, req.body, contextOf(req)));
    }),
  );
  router.get(
    "/sessions",
    noStore,
    handle(async (req, res) => {
      res.json({ sessions: await auth.listSessions(req.user) });
    }),
  );
  router.delete(
    "/sessions/:id",
    noStore,
    handle(async (req, res) => {
      await auth.revokeSession(req.user, String(req.params.id));
      res.status(204).end();
    }),
  );
  return router;
}

/** Token-bearing and personal responses must never be cached (RFC 6749 5.1, RFC 9700). */
const noStore: RequestHandler = (_req, res, next) => {
  res.set({ "cache-control": "no-store", pragma: "no-cache" });
  next();
};

/**
 * Parses and checks a JSON body for one endpoint only (the application's own routes keep their
 * own parsers): a body that is not application/json is 415, unparsable JSON 400, over 64 KiB
 * 413, and a schema violation 400 `validation_failed`.
 */
function json(schema: TSchema, { optional = false } = {}): RequestHandler {
  const check = compileBodyCheck(schema);
  // inflate: false: a compressed body is 415; the server does not decompress bodies either.
  const parse = express.json({ limit: BODY_LIMIT, type: () => true, inflate: false });
  return (req, res, next) => {
    if (hasBody(req) && !req.is("application/json")) {
      return sendProblem(res, new AuthError("unsupported_media_type", "Send the request body as application/json."));
    }
    parse(req, res, (error?: unknown) => {
      if (error !== undefined && error !== null) return sendProblem(res, error);
      const result = check(req.body ?? (optional ? {} : undefined));
      if (result.errors !== undefined) return sendProblem(res, validationError(result.errors));
      req.body = result.value;
      next();
    });
  };
}

/** `Content-Length: 0` (what clients send for a bodiless POST) is no body, whatever its type. */
function hasBody(req: Request): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/** Runs an async endpoint; any failure is answered as problem+json by the endpoint itself. */
function handle(fn: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return (req, res) => {
    fn(req, res).catch((error: unknown) => sendProblem(res, error));
  };
}

/**
 * The `user` of a response: the built-in fields and the configured custom fields only (as the
 * server's response schema does), so a field dropped from the configuration stops appearing.
 */
function userView(auth: AuthService<any>): (user: User<object>) => Record<string, unknown> {
  const fields = ["id", "email", "username", "token_version", "created_at", ...Object.keys(auth.options.userFields)];
  return (user) => {
    const view: Record<string, unknown> = {};
    for (const name of fields) if (Object.hasOwn(user, name)) view[name] = (user as Record<string, unknown>)[name];
    return view;
  };
}

function contextOf(req: Request): RequestContext {
  return { userAgent: req.get("user-agent"), ip: req.ip };
}

export type { Principal, RoutesOption };
