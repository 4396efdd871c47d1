import { createServer, type Server } from "node:http";
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from "fastify";
import swagger from "@fastify/swagger";
import { registerAccountPage } from "./account/routes.js";
import type { Auth } from "./core/auth.js";
import { BODY_LIMIT_BYTES } from "./core/limits.js";
import { sendProblem, problemErrorHandler } from "./http/fastify/reply.js";
import { AuthError } from "./core/errors.js";
import { tokenverPlugin } from "./http/fastify/plugin.js";
import { acceptJsonOnly } from "./http/fastify/json-body.js";
import { problemClientErrorHandler } from "./http/fastify/client-error.js";
import { ENDPOINTS, openApiPath } from "./http/endpoints.js";
import { serverSetting, type TrustProxy } from "./settings/table.js";
import { check, Invalid, OptionError } from "./settings/resolve.js";
import { docsPaths, openApiDocumentSchema } from "./http/schemas.js";
import { Drain } from "./http/drain.js";
import { registerOperations } from "./http/fastify/operations.js";
import { requestIdOf } from "./http/request-id.js";

const drains = new WeakMap<FastifyInstance, Drain>();

/**
 * The graceful shutdown of a server from buildServer() (docs/api.md section 10): stop accepting,
 * answer the requests in flight for up to `timeoutMs`, close idle connections. `cutOff`: how many
 * requests the timeout cut off. Then `app.close()` and `auth.close()`.
 */
export function drainServer(app: FastifyInstance, timeoutMs: number): Promise<{ cutOff: number }> {
  return drains.get(app)!.drain(timeoutMs);
}

export interface BuildServerOptions {
  logger?: FastifyServerOptions["logger"];
  /** Trust `X-Forwarded-For` from this many proxy hops, or these addresses; `false` (default): none. */
  trustProxy?: TrustProxy;
  /** Seconds a request (headers and body) may take to arrive whole; slower ones get 408. Default 30. */
  requestTimeout?: number;
  /** Seconds an idle keep-alive connection stays open. Default 5. */
  keepAliveTimeout?: number;
  /** Connections accepted at once on each listening address; more are closed at once. Default 512. */
  maxConnections?: number;
}

/** The ready auth server: Fastify, hardened body parsing, the tokenver plugin, OpenAPI docs. */
export async function buildServer(auth: Auth<any>, options: BuildServerOptions = {}): Promise<FastifyInstance> {
  const limits = connectionLimits(options);
  const drain = new Drain();
  let lastDropWarning = -Infinity;
  const onDrop = () => {
    // Once a minute at most: a flood of refused connections must not become a flood of logs.
    if (performance.now() - lastDropWarning < 60_000) return;
    lastDropWarning = performance.now();
    app.log.warn({ maxConnections: limits.maxConnections }, "connection refused: TOKENVER_MAX_CONNECTIONS reached");
  };
  const app: FastifyInstance = Fastify({
    // Slow and idle clients cannot hold the server (docs/api.md section 3): see createLimitedServer().
    serverFactory: (handler) => drain.track(createLimitedServer(handler, limits).on("drop", onDrop)),
    logger: options.logger ?? false,
    // Fastify's request logs carry the URL, query string included: registerOperations() logs one
    // line per request with the route's template instead. Errors are logged by sendProblem.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: "request_id" }),
    genReqId: (request) => requestIdOf(request.headers["x-request-id"]),
    // While draining, requests on open connections are answered, not refused (drain.ts).
    return503OnClosing: false,
    trustProxy: fastifyTrustProxy(options.trustProxy ?? false),
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { ignoreTrailingSlash: true },
    // Errors Fastify raises before routing (a malformed URL) get the same problem+json.
    frameworkErrors: (error, request, reply) => {
      reply.header("x-request-id", request.id);
      sendProblem(reply, error);
    },
    // And requests the HTTP parser refuses before Fastify sees them (client-error.ts).
    clientErrorHandler: problemClientErrorHandler,
    ajv: {
      customOptions: {
        // Never coerce: {"email": 123} is a type error, not "123".
        coerceTypes: false,
        // Unknown (and forbidden) keys are dropped before a handler sees the body.
        removeAdditional: true,
        allErrors: true,
      },
    },
  });

  drains.set(app, drain);
  registerOperations(app, { metrics: auth.metrics, draining: () => drain.draining });
  acceptJsonOnly(app);
  app.setErrorHandler(problemErrorHandler);
  app.setNotFoundHandler((_request, reply) => sendProblem(reply, new AuthError("not_found", "Not found.")));

  // Swagger UI's own routes are documentation: public. Only /docs and below it: not /docs-admin.
  app.addHook("onRoute", (route) => {
    if (route.url === "/docs" || route.url.startsWith("/docs/")) route.config = { ...(route.config as object), public: true };
  });

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "tokenver",
        version: "1",
        description: "JWT authentication where logout means logout. Errors are RFC 9457 problem+json with a stable `code`.",
      },
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
      paths: docsPaths(),
    },
    transformObject: (document) =>
      "openapiObject" in document ? describeBodiesAsServed(document.openapiObject as OpenApiDocument) : document.swaggerObject,
  });
  // staticCSP: the docs page may load only its own scripts, styles, fonts and images (the
  // plugin's default also allows any https: style or font, and images from validator.swagger.io).
  const swaggerUi = await loadSwaggerUi();
  if (swaggerUi === undefined) {
    app.get("/docs", { config: { public: true } }, async () => {
      throw new AuthError("not_found", "The docs page needs the @fastify/swagger-ui package: npm install @fastify/swagger-ui.");
    });
  } else {
    await app.register(swaggerUi, {
      routePrefix: "/docs",
      staticCSP: true,
      transformStaticCSP: (header) => header.replace(/ validator\.swagger\.io| https:/g, ""),
    });
  }
  await app.register(tokenverPlugin, { auth });
  await registerAccountPage(app);

  app.get("/openapi.json", { config: { public: true }, schema: openApiDocumentSchema }, async () => app.swagger());
  return app;
}

/**
 * The docs page's plugin, an optional peer dependency: it is the only user of @fastify/static,
 * whose dependencies need a newer Node than tokenver's, and a library user never serves it.
 * Installed in this repository (a devDependency); /openapi.json works without it.
 */
async function loadSwaggerUi(): Promise<typeof import("@fastify/swagger-ui").default | undefined> {
  try {
    return (await import("@fastify/swagger-ui")).default;
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND") return undefined;
    throw error;
  }
}

interface OpenApiDocument {
  paths?: Record<
    string,
    Record<string, { requestBody?: { required?: boolean; content?: Record<string, { schema?: Record<string, unknown> }> } }>
  >;
}

/** The operations whose body may be left out (`bodyOptional` rows), as `post /logout`. */
const OPTIONAL_BODIES = new Set(ENDPOINTS.filter((row) => row.bodyOptional).map((row) => operationKey(row.method, openApiPath(row.path))));

function operationKey(method: string, path: string): string {
  return `${method.toLowerCase()} ${path}`;
}

/**
 * The served document says what the server does, on a copy (the route schemas stay as they are):
 * unknown body keys are dropped, not refused (the schemas say `additionalProperties: false` so
 * that the validator drops them), and a body marked optional in the endpoint table may be left out.
 */
function describeBodiesAsServed<T extends OpenApiDocument>(document: T): T {
  const copy = structuredClone(document);
  for (const [path, operations] of Object.entries(copy.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      const body = operation?.requestBody;
      if (body === undefined) continue;
      if (OPTIONAL_BODIES.has(operationKey(method, path))) body.required = false;
      for (const media of Object.values(body.content ?? {})) {
        if (media.schema?.additionalProperties !== false) continue;
        delete media.schema.additionalProperties;
        media.schema.description = [media.schema.description, "Unknown keys are ignored."].filter(Boolean).join(" ");
      }
    }
  }
  return copy;
}

interface ConnectionLimits {
  requestTimeout: number;
  keepAliveTimeout: number;
  maxConnections: number;
}

/** The three settings, checked as their environment variables are (an `OptionError` names one). */
function connectionLimits(options: BuildServerOptions): ConnectionLimits {
  const setting = (name: keyof ConnectionLimits): number => {
    const row = serverSetting(name);
    const value = options[name];
    if (value === undefined) return row.default as number;
    try {
      return check(row.kind, value) as number;
    } catch (error) {
      if (error instanceof Invalid) throw new OptionError(name, error.message);
      throw error;
    }
  };
  return {
    requestTimeout: setting("requestTimeout"),
    keepAliveTimeout: setting("keepAliveTimeout"),
    maxConnections: setting("maxConnections"),
  };
}

/**
 * The Node server under Fastify, built here because Fastify's own options leave Node's request
 * timeout off and cannot set the connection cap or how often timeouts are checked. Used for every
 * address Fastify listens on (`localhost` is two), so the cap holds per address.
 *
 * - `requestTimeout` (and `headersTimeout`, the same): from a request's first byte to its last.
 *   A socket that sends nothing, or trickles its headers or body, is cut when it runs out; Node
 *   raises ERR_HTTP_REQUEST_TIMEOUT and client-error.ts answers 408 problem+json, then closes.
 *   Node checks these deadlines on a timer (default every 30 s, which would double the allowance):
 *   here a tenth of the timeout, at most 1 s.
 * - `keepAliveTimeout`: an idle connection between requests is closed after this.
 * - The socket inactivity timeout (`server.setTimeout`) is twice the request timeout, at least a
 *   minute: a connection on which nothing moves either way for that long (a client that stopped
 *   reading a large response) is dropped. Longer than the request timeout, so that a slow request
 *   gets its 408, and than any handler takes (statements time out after 10 s).
 * - `maxConnections`: connections over the cap are closed as soon as they are accepted, without a
 *   response (answering would cost what the cap saves); idle ones free their place after the
 *   keep-alive timeout.
 */
function createLimitedServer(handler: (request: any, response: any) => void, limits: ConnectionLimits): Server {
  const requestMs = limits.requestTimeout * 1000;
  const server = createServer(
    {
      requestTimeout: requestMs,
      headersTimeout: requestMs,
      connectionsCheckingInterval: Math.min(1000, Math.max(50, requestMs / 10)),
    },
    handler,
  );
  server.keepAliveTimeout = limits.keepAliveTimeout * 1000;
  server.setTimeout(Math.max(2 * requestMs, 60_000));
  server.maxConnections = limits.maxConnections;
  return server;
}

/** A hop count becomes the function Fastify's types ask for (trust the nearest `hops` proxies). */
function fastifyTrustProxy(trust: TrustProxy): boolean | string | ((address: string, hop: number) => boolean) {
  return typeof trust === "number" ? (_address, hop) => hop < trust : trust;
}
