import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { asAuthError, protocolHeaders, renderError, type ErrorsOption } from "../error-rendering.js";

/** Sends any error as problem+json. 5xx are logged by name and code only: no message or stack. */
export function sendProblem(reply: FastifyReply, error: unknown): FastifyReply {
  return sendError(reply, error, "problem+json");
}

/**
 * Answers an error as the `errors` option says: problem+json or the application's renderer sent
 * here, or (`"app"`) thrown as an AuthError to the application's error handler.
 */
export function sendError(reply: FastifyReply, error: unknown, option: ErrorsOption): FastifyReply {
  if (option === "app") {
    const authError = asAuthError(error);
    reply.headers(protocolHeaders(authError));
    throw authError;
  }
  const rendered = renderError(option, error);
  if (rendered.status >= 500) {
    const e = error as { name?: unknown; code?: unknown; cause?: { name?: unknown; code?: unknown } } | null;
    reply.log.error(
      {
        problem: asAuthError(error).code,
        error: { name: e?.name, code: e?.code, cause: e?.cause && { name: e.cause.name, code: e.cause.code } },
      },
      "request failed",
    );
  }
  // Serialised here, so no route's response schema can reshape an error document.
  return reply.code(rendered.status).headers(rendered.headers).send(rendered.payload);
}

/** A Fastify error handler that renders every error as problem+json. */
export function problemErrorHandler(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(reply, error);
}
