import express from "express";
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response, Router } from "express";
import type { TSchema } from "typebox";
import type { Auth } from "../../core/auth.js";
import { AuthError } from "../../core/errors.js";
import { BODY_LIMIT_BYTES } from "../../core/limits.js";
import type { Principal, RequestContext } from "../../core/types.js";
import { checkRoutesOption, pluginError, type RoutesOption } from "../adapter-options.js";
import { clientAddress } from "../client-address.js";
import { compileBodyCheck, validationError } from "../body-validator.js";
import { authorizationOf } from "../authorization.js";
import { ENDPOINT_HEADERS, ENDPOINTS, runEndpoint, schemaFor, type AnyEndpoint } from "../endpoints.js";
import { toProblem } from "../problem.js";

declare global {
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
  auth: Auth<any>;
  /** The endpoints of docs/api.md section 3: `true` (default) at the mount point, `{ prefix: "/auth" }`, or `false`. */
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
  // Public rows before authentication, every other row after it: default deny for the endpoints too.
  if (routes) mount(endpointRouter(auth, PUBLIC_ROWS));
  guard.use(publicRoutes);
  guard.use(authenticate(auth));
  if (routes) mount(endpointRouter(auth, PROTECTED_ROWS));
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
function authenticate(auth: Auth<any>): RequestHandler {
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

function checkOptions(options: TokenverExpressOptions): { auth: Auth<any>; routes: boolean; prefix: string | undefined } {
  if (options === null || typeof options !== "object") throw pluginError("tokenver() needs { auth } from createAuth()");
  for (const key of Object.keys(options)) if (key !== "auth" && key !== "routes") throw pluginError(`unknown option ${key}`);
  const auth = options.auth;
  if (typeof auth !== "object" || auth === null || typeof auth.verify !== "function")
    throw pluginError("auth must be the service from createAuth()");
  return { auth, ...checkRoutesOption(options.routes) };
}

// -------------------------------------------------------------------------------------------------
// The endpoints of docs/api.md section 3: the rows of endpoints.ts, with the same request schemas
// as the Fastify routes (no coercion, unknown keys dropped) and the same errors.

const PUBLIC_ROWS = ENDPOINTS.filter((row) => row.access === "public");
const PROTECTED_ROWS = ENDPOINTS.filter((row) => row.access !== "public");

/** Rows of the table as an Express router. */
function endpointRouter(auth: Auth<any>, rows: readonly AnyEndpoint[]): Router {
  const router = express.Router();
  for (const row of rows) {
    const handlers: RequestHandler[] = [noStore];
    if (row.body !== undefined) handlers.push(json(schemaFor(row.body, auth.profileSchema), { optional: row.bodyOptional === true }));
    if (row.params !== undefined) handlers.push(checkParams(row.params));
    handlers.push((req, res) => {
      runEndpoint(row, { auth, principal: req.user, body: req.body, params: req.params, query: req.query, client: contextOf(req) })
        .then((result) => {
          res.status(row.status);
          if (result === undefined) res.end();
          else res.json(result);
        })
        .catch((error: unknown) => sendProblem(res, error));
    });
    router[ROUTE_METHODS[row.method]](row.path, ...handlers);
  }
  return router;
}

const ROUTE_METHODS = { GET: "get", POST: "post", PATCH: "patch", DELETE: "delete" } as const;

/** Set first, so that errors (problem+json) carry them too. */
const noStore: RequestHandler = (_req, res, next) => {
  res.set(ENDPOINT_HEADERS);
  next();
};

/** Path parameters pass the row's schema as Fastify's do (they are strings: nothing is coerced). */
function checkParams(schema: TSchema): RequestHandler {
  const check = compileBodyCheck(schema);
  return (req, res, next) => {
    const result = check({ ...req.params });
    if (result.errors !== undefined) return sendProblem(res, validationError(result.errors));
    next();
  };
}

/**
 * Parses and checks a JSON body for one endpoint only (the application's own routes keep their
 * own parsers): a body that is not application/json is 415, unparsable JSON 400, over
 * BODY_LIMIT_BYTES 413, and a schema violation 400 `validation_failed`.
 */
function json(schema: TSchema, { optional = false } = {}): RequestHandler {
  const check = compileBodyCheck(schema);
  // inflate: false: a compressed body is 415; the server does not decompress bodies either.
  const parse = express.json({ limit: BODY_LIMIT_BYTES, type: () => true, inflate: false });
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

function contextOf(req: Request): RequestContext {
  return { userAgent: req.get("user-agent"), ip: clientAddress(req.ip, req.socket.remoteAddress) };
}

export type { Principal, RoutesOption };
