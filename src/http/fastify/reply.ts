import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { toProblem } from "../problem.js";

/** Sends any error as problem+json. 5xx are logged by name and code only: no message or stack. */
export function sendProblem(reply: FastifyReply, error: unknown): FastifyReply {
  const problem = toProblem(error);
  if (problem.status >= 500) {
    const e = error as { name?: unknown; code?: unknown; cause?: { name?: unknown; code?: unknown } } | null;
    reply.log.error(
      {
        problem: problem.body.code,
        error: { name: e?.name, code: e?.code, cause: e?.cause && { name: e.cause.name, code: e.cause.code } },
      },
      "request failed",
    );
  }
  // Serialised here, so no route's response schema can reshape a problem document.
  return reply.code(problem.status).headers(problem.headers).send(JSON.stringify(problem.body));
}

/** A Fastify error handler that renders every error as problem+json. */
export function problemErrorHandler(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(reply, error);
}
