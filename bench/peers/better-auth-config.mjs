// The better-auth service of the peer (bench/peers.ts): email and password, sessions in SQLite
// (better-sqlite3, WAL, as tokenver's store), rate limiting and telemetry off. `cookieCache`:
// the session also travels in a signed cookie that answers without a database read until it
// expires (an hour here, so a run stays in that mode; better-auth's default is 5 minutes, the
// time a revoked session keeps working). better-sqlite3 and Fastify are not in this folder's
// package.json: Node finds them up the tree in the project's node_modules, so the peer runs on
// the same builds of the driver and the framework as tokenver.
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";

export const COOKIE_CACHE_SECONDS = 3600;

export function makeAuth({ file, secret, cookieCache, baseURL = "http://127.0.0.1" }) {
  const database = new Database(file);
  database.pragma("journal_mode = WAL");
  return betterAuth({
    database,
    secret,
    baseURL,
    emailAndPassword: { enabled: true },
    session: cookieCache ? { cookieCache: { enabled: true, maxAge: COOKIE_CACHE_SECONDS } } : {},
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
  });
}
