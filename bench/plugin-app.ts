/**
 * The library as an application embeds it: Fastify with the tokenver plugin (its endpoints at the
 * root, `GET /profile` among them) and the limit's protected `GET /notes` with the limit's body.
 * Nothing of the CLI server's plumbing (request ids, a log line and the metrics per request, the
 * docs page): beside bench/limit-server.ts the difference is exactly tokenver's verify and
 * revocation check, "the same stack with the signature check alone" of docs/api.md section 11.
 * The PostgreSQL cases (3a to 3d) run it; bench/app-server.ts (the CLI server's stack) is case 2c.
 *
 * Env: the variables of `tokenver serve` (docs/api.md section 1), PORT and HOST among them.
 */
import Fastify from "fastify";
import { createAuth } from "../src/create-auth.js";
import { tokenverPlugin } from "../src/http/fastify/plugin.js";
import { configFromEnv } from "../src/settings/env.js";
import { NOTES } from "./notes-constant.js";
import { serveUntilSignal } from "./serve.js";

const config = configFromEnv(process.env);
const auth = await createAuth(config.auth);
const app = Fastify();
await app.register(tokenverPlugin, { auth });
app.get("/notes", async () => NOTES);
await serveUntilSignal(app, auth, config);
