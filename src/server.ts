import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { Auth } from "./core/auth.js";
import { BODY_LIMIT_BYTES } from "./core/limits.js";
import { sendProblem, problemErrorHandler } from "./http/fastify/reply.js";
import { AuthError } from "./core/errors.js";
import { tokenverPlugin } from "./http/fastify/plugin.js";
import { acceptJsonOnly } from "./http/fastify/json-body.js";
import { problemClientErrorHandler } from "./http/fastify/client-error.js";
import { ENDPOINTS, openApiPath } from "./http/endpoints.js";
import type { TrustProxy } from "./settings/table.js";
import { docsPaths, openApiDocumentSchema } from "./http/schemas.js";

export interface BuildServerOptions {
  logger?: FastifyServerOptions["logger"];
  /** Trust `X-Forwarded-For` from this many proxy hops, or these addresses; `false` (default): none. */
  trustProxy?: TrustProxy;
}

/** The ready auth server: Fastify, hardened body parsing, the tokenver plugin, OpenAPI docs. */
export async function buildServer(auth: Auth<any>, options: BuildServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    // Request logs would carry URLs and timings of every call; errors are logged by sendProblem.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: fastifyTrustProxy(options.trustProxy ?? false),
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { ignoreTrailingSlash: true },
    // Errors Fastify raises before routing (a malformed URL) get the same problem+json.
    frameworkErrors: (error, _request, reply) => {
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

  acceptJsonOnly(app);
  app.setErrorHandler(problemErrorHandler);
  // No response of ours is meant to be sniffed into another type (ASVS 3.4.4).
  app.addHook("onRequest", (_request, reply, done) => {
    reply.header("x-content-type-options", "nosniff");
    done();
  });
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
  await app.register(swaggerUi, {
    routePrefix: "/docs",
    staticCSP: true,
    transformStaticCSP: (header) => header.replace(/ validator\.swagger\.io| https:/g, ""),
  });
  await app.register(tokenverPlugin, { auth });

  app.get("/openapi.json", { config: { public: true }, schema: openApiDocumentSchema }, async () => app.swagger());
  return app;
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

/** A hop count becomes the function Fastify's types ask for (trust the nearest `hops` proxies). */
function fastifyTrustProxy(trust: TrustProxy): boolean | string | ((address: string, hop: number) => boolean) {
  return typeof trust === "number" ? (_address, hop) => hop < trust : trust;
}
