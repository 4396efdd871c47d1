// The peer's server: Fastify (the project's, the same as tokenver's) with a protected
// `GET /profile` that answers the user of the request's better-auth session
// (`auth.api.getSession`, as better-auth's Fastify guide does), 401 without one.
//
// Env: PORT, BENCH_DB, BENCH_SECRET, BENCH_COOKIE_CACHE (1: on).
import Fastify from "fastify";
import { fromNodeHeaders } from "better-auth/node";
import { makeAuth } from "./better-auth-config.mjs";

const auth = makeAuth({
  file: process.env.BENCH_DB,
  secret: process.env.BENCH_SECRET,
  cookieCache: process.env.BENCH_COOKIE_CACHE === "1",
});
const app = Fastify({ logger: false, routerOptions: { ignoreTrailingSlash: true } });
app.get("/health", async () => ({ status: "ok" }));
app.get("/profile", async (request, reply) => {
  const session = await auth.api.getSession({ headers: fromNodeHeaders(request.headers) });
  if (session === null) return reply.code(401).send({ error: "unauthorized" });
  return session.user;
});
await app.listen({ port: Number(process.env.PORT ?? 0), host: "127.0.0.1" });
const stop = () => void app.close().finally(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
