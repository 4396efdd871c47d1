// One file on purpose: the Express adapter mirrors fastify/plugin.ts + fastify/routes.ts as one
// middleware (authentication hook, the endpoint table mounted as a router, error rendering), and
// its pieces share the request-local state Express gives no other place for. Rules live in
// http/authorization.ts, http/endpoint.ts and http/browser/, which both adapters call.
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
import { authenticate as authenticateRequest, authModeOf, setAuthMode } from "../authorization.js";
import { principalOf, requirePrincipal, setPrincipal } from "../principal.js";
import { formParameters } from "../fastify/json-body.js";
import { answerEndpoint, cookiesOnFailure } from "../browser/answer.js";
import { serializeCookie, type CookieToSet } from "../browser/cookies.js";
import { CORS_ALLOWED_HEADERS, CORS_MAX_AGE, CORS_METHODS, corsOrigins } from "../browser/cors.js";
import { checkRequestedMode, isPreflight } from "../browser/gate.js";
import { ENDPOINT_HEADERS, ENDPOINTS, schemaFor, type AnyEndpoint } from "../endpoints.js";
import { asAuthError, checkErrorsOption, protocolHeaders, renderError, type ErrorResponse, type ErrorsOption } from "../error-rendering.js";

declare global {
  namespace Express {
    interface Request {
      /**
       * The authenticated principal `{userId, sessionId, tokenVersion, claims}` of every request
       * that passed the tokenver guard. On the routes of `guard.public` no token was verified:
       * reading it there throws a 401 `AuthError` (`token_missing`), so it is never an undefined
       * typed as a principal. Custom user fields are loaded on demand, typed by your `auth`:
       * `await auth.getUser(req.user)`.
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
  /**
   * How tokenver's errors (the guard's 401s, the endpoints' errors) are answered:
   * `"problem+json"` (default), `"app"` (passed to your error middleware as an `AuthError` with
   * `next(error)`), or a function `(problem, error) => ({ status, headers, body })` rendering your format.
   */
  errors?: ErrorsOption;
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
  const { auth, routes, prefix, errors } = checkOptions(options);
  const fail = failWith(errors);
  const guard = express.Router();
  const publicRoutes = express.Router();
  const mount = (router: Router) => (prefix === undefined ? guard.use(router) : guard.use(prefix, router));
  guard.use(userAccessor);
  // CORS before authentication, as in the Fastify plugin: preflights answered, and a 401 readable
  // by an allowed origin's page (docs/api.md section 6).
  const origins = corsOrigins(auth.browser.allowedOrigins);
  if (origins !== undefined) {
    if (routes) mount(corsExemptions());
    guard.use(cors(origins));
  }
  // Public rows before authentication, every other row after it: default deny for the endpoints too.
  if (routes) mount(failureCookieMarks());
  if (routes) mount(endpointRouter(auth, PUBLIC_ROWS, fail));
  guard.use(publicRoutes);
  guard.use(authenticate(auth, fail));
  if (routes) mount(endpointRouter(auth, PROTECTED_ROWS, fail));
  return Object.assign(guard, { public: publicRoutes });
}

/** An Express error handler that renders every error as the same problem+json as the server. */
export const problemHandler: ErrorRequestHandler = (error: unknown, _req: Request, res: Response, next: NextFunction) => {
  if (res.headersSent) return next(error);
  sendProblem(res, error);
};

/** Sends any error as problem+json (RFC 9457): AuthError codes as they are, anything else 500. */
export function sendProblem(res: Response, error: unknown): void {
  sendRendered(res, error, "problem+json");
}

function sendRendered(res: Response, error: unknown, option: Exclude<ErrorsOption, "app">): void {
  // A failure after the response started cannot be reported to the client any more.
  if (res.headersSent) {
    res.end();
    return;
  }
  const rendered = renderError(option, error);
  res.status(rendered.status).set(rendered.headers).send(rendered.payload);
}

/** Answers an error of the guard or an endpoint as the `errors` option says. */
type Fail = (res: Response, next: NextFunction, error: unknown) => void;

function failWith(option: ErrorsOption): Fail {
  if (option !== "app") return (res, _next, error) => sendRendered(res, error, option);
  return (res, next, error) => {
    const authError = asAuthError(error);
    if (!res.headersSent) res.set(protocolHeaders(authError));
    next(authError);
  };
}

/** `req.user`: the verified principal, or a 401 where none was verified (the public routes). */
const userAccessor: RequestHandler = (req, _res, next) => {
  Object.defineProperty(req, "user", {
    configurable: true,
    enumerable: true,
    get: () => requirePrincipal(req),
    set: (principal: Principal) => setPrincipal(req, principal),
  });
  next();
};

/**
 * One `auth.verify()` per request (no user row is read unless a handler asks for it): the bearer
 * header or the access cookie, decided in authorization.ts for both adapters.
 */
function authenticate(auth: Auth<any>, fail: Fail): RequestHandler {
  return (req, res, next) => {
    authenticateRequest(auth, req)
      .then(
        ({ principal, mode }) => {
          setPrincipal(req, principal);
          setAuthMode(req, mode);
          next();
        },
        (error: unknown) => {
          // POST /logout expires the cookies even when it answers 401 (docs/api.md section 6).
          const mark = (req as MarkedRequest)[FAILURE_COOKIES];
          if (mark !== undefined) appendCookies(res, cookiesOnFailure(mark.row, auth, mark.mountPath));
          fail(res, next, error);
        },
      )
      .catch(next);
  };
}

const FAILURE_COOKIES: unique symbol = Symbol("tokenver.failureCookies");
type MarkedRequest = Request & { [FAILURE_COOKIES]?: { row: AnyEndpoint; mountPath: string } };

/** Marks the requests of the rows that set cookies whatever they answer, before authentication can fail them. */
function failureCookieMarks(): Router {
  const router = express.Router();
  for (const row of ENDPOINTS) {
    if (!row.expiresCookies) continue;
    router[ROUTE_METHODS[row.method]](row.path, (req, _res, next) => {
      (req as MarkedRequest)[FAILURE_COOKIES] = { row, mountPath: req.baseUrl };
      next();
    });
  }
  return router;
}

function appendCookies(res: Response, cookies: readonly CookieToSet[]): void {
  for (const cookie of cookies) res.append("Set-Cookie", serializeCookie(cookie));
}

const NO_CORS: unique symbol = Symbol("tokenver.noCors");

/** Marks the requests of the rows that must never be CORS-enabled (`cors: false`, e.g. introspection). */
function corsExemptions(): Router {
  const router = express.Router();
  for (const row of ENDPOINTS) {
    if (row.cors !== false) continue;
    router.all(row.path, (req, _res, next) => {
      (req as Request & { [NO_CORS]?: true })[NO_CORS] = true;
      next();
    });
  }
  return router;
}

/** CORS for exact origins (the same rules as @fastify/cors in the plugin): echoed with Vary: Origin and credentials. */
function cors(origins: readonly string[]): RequestHandler {
  return (req, res, next) => {
    if ((req as Request & { [NO_CORS]?: true })[NO_CORS]) return next();
    res.vary("Origin");
    const origin = req.headers.origin;
    const allowed = origin !== undefined && origins.includes(origin);
    if (allowed) res.set({ "access-control-allow-origin": origin, "access-control-allow-credentials": "true" });
    if (!isPreflight(req)) return next();
    if (allowed) {
      res.set({
        "access-control-allow-methods": CORS_METHODS.join(", "),
        "access-control-allow-headers": CORS_ALLOWED_HEADERS.join(", "),
        "access-control-max-age": String(CORS_MAX_AGE),
      });
    }
    res.status(204).set("content-length", "0").end();
  };
}

const KNOWN_KEYS = new Set(["auth", "routes", "errors"]);

function checkOptions(options: TokenverExpressOptions): {
  auth: Auth<any>;
  routes: boolean;
  prefix: string | undefined;
  errors: ErrorsOption;
} {
  if (options === null || typeof options !== "object") throw pluginError("tokenver() needs { auth } from createAuth()");
  for (const key of Object.keys(options)) if (!KNOWN_KEYS.has(key)) throw pluginError(`unknown option ${key}`);
  const auth = options.auth;
  if (typeof auth !== "object" || auth === null || typeof auth.verify !== "function")
    throw pluginError("auth must be the service from createAuth()");
  return { auth, ...checkRoutesOption(options.routes), errors: checkErrorsOption(options.errors) };
}

// -------------------------------------------------------------------------------------------------
// The endpoints of docs/api.md section 3: the rows of endpoints.ts, with the same request schemas
// as the Fastify routes (no coercion, unknown keys dropped) and the same errors.

const PUBLIC_ROWS = ENDPOINTS.filter((row) => row.access === "public");
const PROTECTED_ROWS = ENDPOINTS.filter((row) => row.access !== "public");

/** Rows of the table as an Express router. */
function endpointRouter(auth: Auth<any>, rows: readonly AnyEndpoint[], fail: Fail): Router {
  const router = express.Router();
  for (const row of rows) {
    const handlers: RequestHandler[] = [noStore, modeGate(auth, fail)];
    if (row.bodyType === "form") handlers.push(form(fail));
    else if (row.body !== undefined)
      handlers.push(json(schemaFor(row.body, auth.profileSchema), fail, { optional: row.bodyOptional === true }));
    if (row.params !== undefined) handlers.push(checkParams(row.params, fail));
    handlers.push((req, res, next) => {
      answerEndpoint(row, {
        auth,
        request: req,
        principal: principalOf(req),
        authMode: authModeOf(req),
        body: req.body,
        params: req.params,
        query: req.query,
        client: contextOf(req),
        mountPath: req.baseUrl,
      })
        .then((answer) => {
          appendCookies(res, answer.cookies);
          res.status(row.status);
          if (row.headers !== undefined) {
            res.removeHeader("pragma");
            res.set(row.headers);
          }
          if (answer.body === undefined) res.end();
          else res.json(answer.body);
        })
        .catch((error: unknown) => {
          if (!res.headersSent) appendCookies(res, cookiesOnFailure(row, auth, req.baseUrl, error));
          fail(res, next, error);
        });
    });
    router[ROUTE_METHODS[row.method]](row.path, ...handlers);
  }
  return router;
}

const ROUTE_METHODS = { GET: "get", POST: "post", PATCH: "patch", DELETE: "delete" } as const;

/** Before the body is parsed: a cookie-mode form post is 403 csrf_failed, not 415 (docs/api.md section 6). */
function modeGate(auth: Auth<any>, fail: Fail): RequestHandler {
  return (req, res, next) => {
    try {
      checkRequestedMode(auth.browser.allowedOrigins, req);
    } catch (error) {
      return fail(res, next, error);
    }
    next();
  };
}

/** Set first, so that errors (problem+json) carry them too. */
const noStore: RequestHandler = (_req, res, next) => {
  res.set(ENDPOINT_HEADERS);
  next();
};

/** Path parameters pass the row's schema as Fastify's do (they are strings: nothing is coerced). */
function checkParams(schema: TSchema, fail: Fail): RequestHandler {
  const check = compileBodyCheck(schema);
  return (req, res, next) => {
    const result = check({ ...req.params });
    if (result.errors !== undefined) return fail(res, next, validationError(result.errors));
    next();
  };
}

/**
 * Parses and checks a JSON body for one endpoint only (the application's own routes keep their
 * own parsers): a body that is not application/json is 415, unparsable JSON 400, over
 * BODY_LIMIT_BYTES 413, and a schema violation 400 `validation_failed`.
 */
function json(schema: TSchema, fail: Fail, { optional = false } = {}): RequestHandler {
  const check = compileBodyCheck(schema);
  // inflate: false: a compressed body is 415; the server does not decompress bodies either.
  const parse = express.json({ limit: BODY_LIMIT_BYTES, type: () => true, inflate: false });
  return (req, res, next) => {
    if (hasBody(req) && !req.is("application/json")) {
      return fail(res, next, new AuthError("unsupported_media_type", "Send the request body as application/json."));
    }
    parse(req, res, (error?: unknown) => {
      if (error !== undefined && error !== null) return fail(res, next, error);
      const result = check(req.body ?? (optional ? {} : undefined));
      if (result.errors !== undefined) return fail(res, next, validationError(result.errors));
      req.body = result.value;
      next();
    });
  };
}

/**
 * The one exception to JSON only (docs/api.md section 7): an `application/x-www-form-urlencoded`
 * body (RFC 7662 introspection), as an object of strings (the first value of each name); any
 * other content type is 415, over BODY_LIMIT_BYTES 413.
 */
function form(fail: Fail): RequestHandler {
  const parse = express.text({ limit: BODY_LIMIT_BYTES, type: () => true, inflate: false });
  return (req, res, next) => {
    if (hasBody(req) && !req.is("application/x-www-form-urlencoded")) {
      return fail(res, next, new AuthError("unsupported_media_type", "Send the request body as application/x-www-form-urlencoded."));
    }
    parse(req, res, (error?: unknown) => {
      if (error !== undefined && error !== null) return fail(res, next, error);
      req.body = formParameters(typeof req.body === "string" ? req.body : "");
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

export type { Principal, RoutesOption, ErrorsOption, ErrorResponse };
