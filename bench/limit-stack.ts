/**
 * The stack every limit server shares: Fastify with the options buildServer() gives it that matter
 * per request, Bearer parsing, an HS256 access-token verifier with tokenver's options, a
 * principal of the same shape, and problem+json on failure. No store, no revocation check.
 *
 * LIMIT_VERIFIER picks the verifier:
 * - `fast-jwt` (default): fast-jwt's createVerifier alone, every request checks the HMAC: what a
 *   Fastify + fast-jwt application does (the issue's "limit");
 * - `fast-jwt-cache`: the same with fast-jwt's own verified-token cache, sized like tokenver's;
 * - `tokenver`: tokenver's own verifier (the same options, its exact-string cache).
 */
import Fastify, { type FastifyInstance } from "fastify";
import { createVerifier } from "fast-jwt";
import { createAccessTokenVerifier, VERIFIED_TOKEN_CACHE_SIZE, type AccessTokenClaims } from "../src/core/tokens/access-token.js";
import { parseBearer } from "../src/core/tokens/bearer.js";
import { systemClock } from "../src/core/clock.js";
import { AuthError } from "../src/core/errors.js";
import { sendProblem } from "../src/http/fastify/reply.js";
import { EVENT_LOOP_PATH } from "./event-loop.js";
// The request.user type declaration (Principal | null) comes with the plugin module.
import type { Principal } from "../src/http/fastify/plugin.js";

export type LimitVerifier = "fast-jwt" | "fast-jwt-cache" | "tokenver";

export function limitVerifier(kind: LimitVerifier): (token: string) => AccessTokenClaims {
  const secret = required("TOKENVER_SECRET");
  const issuer = process.env.TOKENVER_ISSUER ?? "tokenver";
  if (kind === "tokenver") {
    return createAccessTokenVerifier({
      secret,
      issuer,
      ttl: Number(process.env.TOKENVER_ACCESS_TTL ?? 900),
      clockTolerance: 5,
      clock: systemClock,
    });
  }
  const verify = createVerifier({
    key: secret,
    algorithms: ["HS256"],
    allowedIss: issuer,
    checkTyp: "at+jwt",
    requiredClaims: ["iss", "sub", "sid", "token_version", "jti", "iat", "exp"],
    clockTolerance: 5000,
    ...(kind === "fast-jwt-cache" ? { cache: VERIFIED_TOKEN_CACHE_SIZE } : {}),
  });
  return (token) => {
    try {
      return verify(token) as AccessTokenClaims;
    } catch {
      throw new AuthError("token_invalid", "The token could not be verified.", { tokenPresented: true });
    }
  };
}

/** The Fastify app with the verifying hook; `/health` and `/hello` are public. */
export function limitApp(): FastifyInstance {
  const kind = (process.env.LIMIT_VERIFIER ?? "fast-jwt") as LimitVerifier;
  if (!["fast-jwt", "fast-jwt-cache", "tokenver"].includes(kind)) throw new Error(`LIMIT_VERIFIER: unknown verifier ${kind}`);
  const verify = limitVerifier(kind);
  const app = Fastify({ logger: false, routerOptions: { ignoreTrailingSlash: true }, bodyLimit: 64 * 1024 });
  // Declared up front like the tokenver plugin does, so request objects keep one shape.
  app.decorateRequest("user", null as unknown as Principal);
  app.addHook("onRequest", async (request, reply) => {
    if (request.url === "/health" || request.url === "/hello" || request.url.startsWith(EVENT_LOOP_PATH)) return;
    try {
      const claims = verify(parseBearer(request.headers.authorization));
      // The same shape of principal tokenver hands to routes.
      request.user = { userId: claims.sub, sessionId: claims.sid, tokenVersion: claims.token_version, claims };
    } catch (error) {
      return sendProblem(reply, error);
    }
  });
  app.get("/health", async () => ({ status: "ok" }));
  return app;
}

export async function listen(app: FastifyInstance): Promise<void> {
  await app.listen({ port: Number(process.env.PORT ?? 0), host: "127.0.0.1" });
  const stop = () => void app.close().finally(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}
