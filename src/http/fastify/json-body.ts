import type { FastifyInstance } from "fastify";
import { AuthError } from "../../core/errors.js";
import { BODY_LIMIT_BYTES } from "../../core/limits.js";

/**
 * JSON only (415 otherwise: text/plain is not a string that then fails validation), bodies up to
 * BODY_LIMIT_BYTES (413), an empty body is no body (so `POST /logout` needs none), prototype poisoning
 * refused, and no compressed bodies: we do not decode them, so reading one as JSON would be wrong.
 */
export function acceptJsonOnly(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string", bodyLimit: BODY_LIMIT_BYTES }, (request, body, done) => {
    const encoding = request.headers["content-encoding"];
    if (encoding !== undefined && encoding.trim().toLowerCase() !== "identity") {
      return done(new AuthError("unsupported_media_type", "Send the request body uncompressed (no Content-Encoding)."), undefined);
    }
    if (typeof body !== "string" || body.trim() === "") return done(null, undefined);
    parseJson(request, body, done);
  });
}

/**
 * The one exception to JSON only (docs/api.md section 7): an `application/x-www-form-urlencoded`
 * body (RFC 7662 introspection), for the routes registered on `app` (a scope of its own). Any other
 * content type is 415; the body becomes an object of strings, the first value of each name.
 */
export function acceptFormOnly(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string", bodyLimit: BODY_LIMIT_BYTES },
    (request, body, done) => {
      const encoding = request.headers["content-encoding"];
      if (encoding !== undefined && encoding.trim().toLowerCase() !== "identity") {
        return done(new AuthError("unsupported_media_type", "Send the request body uncompressed (no Content-Encoding)."), undefined);
      }
      done(null, formParameters(typeof body === "string" ? body : body.toString("utf8")));
    },
  );
}

/** Form parameters as a plain object (no prototype): the first value of each name. */
export function formParameters(body: string): Record<string, string> {
  const parameters: Record<string, string> = Object.create(null);
  for (const [name, value] of new URLSearchParams(body)) if (!(name in parameters)) parameters[name] = value;
  return parameters;
}
