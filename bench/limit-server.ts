/**
 * The no-revocation limit (bench/limit-stack.ts): Fastify, Bearer parsing, an HS256 verifier
 * (LIMIT_VERIFIER), and a protected route that only verifies the signature and claims. `/hello`
 * is the same server with no auth at all: the ceiling of server + load generator.
 *
 * Env: PORT, TOKENVER_SECRET, TOKENVER_ISSUER, TOKENVER_ACCESS_TTL, LIMIT_VERIFIER.
 */
import { limitApp, listen } from "./limit-stack.js";
import { NOTES } from "./notes-constant.js";

const app = limitApp();
// The calibration route: same server, no auth, same response body.
app.get("/hello", async () => NOTES);
app.get("/notes", async () => NOTES);
await listen(app);
