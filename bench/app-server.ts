/**
 * A tiny application that embeds tokenver: the real server (buildServer: the tokenver Fastify
 * plugin, its routes, default deny) plus a protected `GET /notes` route that returns a constant,
 * so a request costs exactly the verify + revocation check and nothing of the app's own.
 * Used when examples/fastify-notes is absent, and always for the limit comparison.
 *
 * Env: the variables of `tokenver serve` (docs/api.md section 1), and TOKENVER_BENCH_ELD=1 for the
 * bench-only public route `GET /bench/event-loop` (bench/event-loop.ts).
 */
import { createAuth } from "../src/create-auth.js";
import { buildServer } from "../src/server.js";
import { configFromEnv } from "../src/settings/env.js";
import { addEventLoopRoute } from "./event-loop.js";
import { NOTES } from "./notes-constant.js";
import { serveUntilSignal } from "./serve.js";

const config = configFromEnv(process.env);
const auth = await createAuth(config.auth);
const { trustProxy, requestTimeout, keepAliveTimeout, maxConnections } = config;
const app = await buildServer(auth, { logger: false, trustProxy, requestTimeout, keepAliveTimeout, maxConnections });
app.get("/notes", async () => NOTES);
addEventLoopRoute(app, { config: { public: true } });
await serveUntilSignal(app, auth, config);
