import type {} from "@fastify/swagger";
import type { FastifyInstance, FastifyRequest, FastifySchema, RouteOptions } from "fastify";
import { Type, type TObject } from "typebox";
import type { Auth } from "../../core/auth.js";
import { clientAddress } from "../client-address.js";
import { principalOf } from "../principal.js";
import { acceptFormOnly } from "./json-body.js";
import { authModeOf } from "../authorization.js";
import { answerEndpoint, cookiesOnFailure } from "../browser/answer.js";
import { checkRequestedMode } from "../browser/gate.js";
import { CookieResult } from "../schemas.js";
import { ENDPOINT_HEADERS, ENDPOINTS, schemaFor, type AnyEndpoint } from "../endpoints.js";

const BEARER = [{ bearerAuth: [] }];
const FORM = "application/x-www-form-urlencoded";

/**
 * The endpoints of docs/api.md section 3 (the table of endpoints.ts), as Fastify routes.
 * Registered inside the tokenver plugin's scope, so the default-deny hook covers them; the
 * public ones say so in `config`. Their schemas are also what the OpenAPI document shows.
 */
export async function authRoutes(app: FastifyInstance, { auth }: { auth: Auth<any> }): Promise<void> {
  // Set first, so that errors (problem+json) carry them too.
  // A callback hook (it runs on every request; an async one costs a promise).
  app.addHook("onRequest", (request, reply, done) => {
    reply.headers(ENDPOINT_HEADERS);
    try {
      // Before the body is parsed: a cookie-mode form post is 403 csrf_failed, not 415.
      checkRequestedMode(auth.browser.allowedOrigins, request.raw);
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  });

  const mountPath = app.prefix;

  for (const row of ENDPOINTS) {
    // Never CORS-enabled: its preflight must not be answered by @fastify/cors's catch-all route.
    if (row.cors === false) {
      app.options(row.path, { config: { public: true, cors: false }, schema: { hide: true } }, (_request, reply) => reply.callNotFound());
    }
    const route: RouteOptions = {
      // A form row checks its own parameters (after authenticating its caller): Fastify's check of
      // the documented schema must not answer first.
      ...(row.bodyType === "form" ? { attachValidation: true } : {}),
      method: row.method,
      url: row.path,
      config: {
        ...(row.access === "public" ? { public: true } : {}),
        ...(row.cors === false ? { cors: false } : {}),
        tokenver: { row, mountPath },
      },
      schema: routeSchema(row, auth.profileSchema),
      // An admin row answers 403 to others before it checks their query string (runEndpoint checks again).
      ...(row.access === "admin" ? { preValidation: async (request: FastifyRequest) => auth.requireAdmin(request.user) } : {}),
      ...(row.bodyOptional
        ? {
            preValidation: async (request) => {
              // Only a missing body: JSON `null` is still a (refused) body.
              if (request.body === undefined) request.body = {};
            },
          }
        : {}),
      handler: async (request, reply) => {
        let answer;
        try {
          answer = await answerEndpoint(row, {
            auth,
            request: request.raw,
            principal: principalOf(request),
            authMode: authModeOf(request),
            body: request.body,
            params: request.params,
            query: request.query,
            client: { userAgent: request.headers["user-agent"], ip: clientAddress(request.ip, request.socket.remoteAddress) },
            mountPath,
          });
        } catch (error) {
          for (const c of cookiesOnFailure(row, auth, mountPath, error)) reply.setCookie(c.name, c.value, c.options);
          throw error;
        }
        for (const c of answer.cookies) reply.setCookie(c.name, c.value, c.options);
        if (row.headers !== undefined) reply.removeHeader("pragma").headers(row.headers);
        return reply.code(row.status).send(answer.body);
      },
    };
    if (row.bodyType === "form") {
      // Its own scope, whose only body parser is the form one (every other route stays JSON only).
      await app.register(async (scope) => {
        acceptFormOnly(scope);
        scope.route(route);
      });
    } else app.route(route);
  }
}

/**
 * A row as Fastify's schema: validation, serialisation and the row's OpenAPI operation. The
 * endpoint reference (docs/endpoints.md, scripts/docs/endpoint-reference.ts) is rendered from it too.
 */
export function routeSchema(row: AnyEndpoint, profile: TObject): FastifySchema {
  return {
    tags: [...row.tags],
    summary: row.summary,
    ...(row.description === undefined ? {} : { description: row.description }),
    ...(row.access === "public" ? {} : { security: BEARER }),
    ...(row.body === undefined ? {} : { body: schemaFor(row.body, profile) }),
    // A form row's parameters, for the document only (the route attaches, and ignores, validation).
    ...(row.bodyType === "form" && row.formParameters !== undefined ? { body: row.formParameters, consumes: [FORM] } : {}),
    ...(row.params === undefined ? {} : { params: row.params }),
    ...(row.query === undefined ? {} : { querystring: row.query }),
    response: {
      // A token-issuing row answers `{user?, token_type: "cookie", expires_in, csrf_token}` in cookie mode.
      [row.status]: row.issuesTokens
        ? Type.Union([schemaFor(row.response, profile), CookieResult(profile)])
        : schemaFor(row.response, profile),
      ...row.errors,
    },
  };
}
