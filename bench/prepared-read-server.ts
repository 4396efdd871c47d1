/**
 * The ceiling of `GET /profile` (docs/api.md section 11): the limit's stack (bench/limit-stack.ts,
 * a stateless JWT check, no revocation) plus the user row read by primary key with a
 * better-sqlite3 prepared statement, prepared once, and the user answered through a response
 * schema as tokenver answers it (every built-in field of the contract's user and the stored custom ones). What a
 * hand-written Fastify + fast-jwt + better-sqlite3 application would do, with the same SQLite
 * settings as tokenver's store (WAL, default page cache).
 *
 * Env: as bench/limit-server.ts, plus TOKENVER_DATABASE_URL (sqlite:<file>, the seeded database).
 */
import SQLite from "better-sqlite3";
import { Type } from "typebox";
import { AuthError } from "../src/core/errors.js";
import { userSchema } from "../src/http/schemas.js";
import { sendProblem } from "../src/http/fastify/reply.js";
import { USER_ROW_SQL, type PublicUserRow } from "../src/store/queries/user-row.js";
import { limitApp, listen } from "./limit-stack.js";

const url = process.env.TOKENVER_DATABASE_URL ?? "";
if (!url.startsWith("sqlite:")) throw new Error("TOKENVER_DATABASE_URL must be sqlite:<file>");
const db = new SQLite(url.slice("sqlite:".length), { fileMustExist: true });
db.pragma("journal_mode = WAL");
const userRow = db.prepare<[string], PublicUserRow>(USER_ROW_SQL("?"));

const app = limitApp();
app.get("/profile", { schema: { response: { 200: userSchema(Type.Object({})) } } }, async (request, reply) => {
  const row = userRow.get(request.user.userId);
  if (row === undefined)
    return sendProblem(reply, new AuthError("token_invalid", "The token's user is unknown.", { tokenPresented: true }));
  const profile = JSON.parse(row.profile) as Record<string, unknown>;
  profile.id = row.id;
  profile.email = row.email;
  profile.username = row.username;
  profile.token_version = row.token_version;
  profile.created_at = row.created_at;
  profile.role = row.role;
  profile.disabled = row.disabled_at !== null;
  profile.mfa_enabled = row.mfa_enabled_at !== null;
  profile.recovery_codes_left = row.recovery_codes_left;
  profile.email_verified = row.email_verified_at !== null;
  return profile;
});
await listen(app);
