/**
 * The no-revocation limit (bench/limit-stack.ts): Fastify, Bearer parsing, an HS256 verifier
 * (LIMIT_VERIFIER), and a protected route that only verifies the signature and claims. `/hello`
 * is the same server with no auth at all: the ceiling of server + load generator.
 *
 * Env: PORT, TOKENVER_SECRET, TOKENVER_ISSUER, TOKENVER_ACCESS_TTL, LIMIT_VERIFIER, TOKENVER_BENCH_ELD
 * (bench/event-loop.ts: the control case 4c, the machine's own event-loop delay at the paced load).
 */
import { addEventLoopRoute } from "./event-loop.js";
import { limitApp, listen } from "./limit-stack.js";
import { NOTES } from "./notes-constant.js";

const app = limitApp();
// The calibration route: same server, no auth, same response body.
app.get("/hello", async () => NOTES);
app.get("/notes", async () => NOTES);
addEventLoopRoute(app);
await listen(app);
