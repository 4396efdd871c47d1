/**
 * The no-revocation limit: the same stack as tokenver (Fastify with the same server options, the
 * same Bearer parsing, the same fast-jwt verifier with the same options) and a protected route
 * that only verifies the signature and claims. No store, no revocation check.
 *
 * Env: PORT, TOKENVER_SECRET, TOKENVER_ISSUER, TOKENVER_ACCESS_TTL. Prints nothing; GET /health answers.
 */
import Fastify from "fastify";
import { createAccessTokenVerifier } from "../src/core/tokens/access-token.js";
import { parseBearer } from "../src/core/tokens/bearer.js";
import { systemClock } from "../src/core/clock.js";
import { sendProblem } from "../src/http/fastify/reply.js";
// The request.user type declaration (Principal | null) comes with the plugin module.
import type { Principal } from "../src/http/fastify/plugin.js";
import { NOTES } from "./notes-constant.js";

const verify = createAccessTokenVerifier({
  secret: required("TOKENVER_SECRET"),
  issuer: process.env.TOKENVER_ISSUER ?? "tokenver",
  ttl: Number(process.env.TOKENVER_ACCESS_TTL ?? 900),
  clockTolerance: 5,
  clock: systemClock,
});

// The options buildServer() gives Fastify that matter per request.
const app = Fastify({ logger: false, routerOptions: { ignoreTrailingSlash: true }, bodyLimit: 64 * 1024 });

// Declared up front like the tokenver plugin does, so request objects keep one shape.
app.decorateRequest("user", null as unknown as Principal);

app.addHook("onRequest", async (request, reply) => {
  if (request.url === "/health" || request.url === "/hello") return;
  try {
    const claims = verify(parseBearer(request.headers.authorization));
    // The same shape of principal tokenver hands to routes.
    request.user = { userId: claims.sub, sessionId: claims.sid, tokenVersion: claims.token_version, claims };
  } catch (error) {
    return sendProblem(reply, error);
  }
});

app.get("/health", async () => ({ status: "ok" }));
// The calibration route: same server, no auth, same response body.
app.get("/hello", async () => NOTES);
app.get("/notes", async () => NOTES);

await app.listen({ port: Number(process.env.PORT ?? 0), host: "127.0.0.1" });

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}
