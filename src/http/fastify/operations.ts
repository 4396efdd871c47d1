import type { FastifyInstance, FastifyRequest } from "fastify";
import { AuthError } from "../../core/errors.js";
import type { Metrics } from "../../metrics/metrics.js";
import { sendProblem } from "./reply.js";

export interface OperationsHooks {
  /** The service's metrics, if it keeps them: every answered request is counted. */
  metrics: Metrics | undefined;
  /** True from the shutdown signal on: `/health` answers 503 (docs/operations.md). */
  draining: () => boolean;
}

/**
 * The built-in server's per-request operations (docs/api.md section 10): `X-Request-Id` (and
 * `X-Content-Type-Options: nosniff`) on every response, one log line per request, the HTTP series, and `/health` failing while draining.
 * The request id itself is Fastify's `request.id`, made by `genReqId` from the header
 * (request-id.ts), so every log line of the request carries it.
 */
export function registerOperations(app: FastifyInstance, { metrics, draining }: OperationsHooks): void {
  // Callback hooks, not async ones: they run on every request, and a promise per hook is measurable.
  app.addHook("onRequest", (request, reply, done) => {
    reply.header("x-request-id", request.id);
    // No response of ours is meant to be sniffed into another type (ASVS 3.4.4).
    reply.header("x-content-type-options", "nosniff");
    if (draining() && request.routeOptions.url === "/health") {
      // Answered here: `done` is not called (and the reply, a thenable, is not returned).
      sendProblem(reply, new AuthError("service_unavailable", "The server is shutting down."));
      return;
    }
    done();
  });
  app.addHook("onResponse", (request, reply, done) => {
    const route = routeOf(request);
    const status = reply.statusCode;
    const ms = reply.elapsedTime;
    metrics?.observeRequest(request.method, route, status, ms / 1000);
    // The route's template, never the URL: no query string, no path parameter reaches a log line.
    request.log.info({ method: request.method, route, status, duration: Math.round(ms * 1000) / 1000 }, "request");
    done();
  });
}

/** The route label of a request that matched no route: one label, whatever the path was. */
export const UNMATCHED_ROUTE = "unmatched";

/** The matched route's template (`/sessions/:id`), or one label for everything unmatched. */
function routeOf(request: FastifyRequest): string {
  return request.is404 || request.routeOptions.url === undefined ? UNMATCHED_ROUTE : request.routeOptions.url;
}
