// Seeds the peer's database: better-auth's tables, N users with one session each (through
// better-auth's own internal adapter, so every column is as it writes it), and two cookie files
// for the load generator, one line per session: the signed session cookie (exact mode), and the
// same with the session-data cookie better-auth sets when its cookie cache is on.
//
// Usage: node bench/peers/better-auth-seed.mjs <db file> <sessions> <out dir>   (env BENCH_SECRET)
// Prints one JSON line: { sessions, exactCookies, cachedCookies } (paths; each also as .json).
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { getMigrations } from "better-auth/db/migration";
import { makeAuth } from "./better-auth-config.mjs";

const [file, count = "2000", dir] = process.argv.slice(2);
const secret = process.env.BENCH_SECRET;
if (!file || !dir || !secret) throw new Error("usage: BENCH_SECRET=... better-auth-seed.mjs <db file> <sessions> <out dir>");

const auth = makeAuth({ file, secret, cookieCache: true });
const { runMigrations } = await getMigrations(auth.options);
await runMigrations();
const ctx = await auth.$context;

// better-call's signed cookie: value.HMAC-SHA256(secret, value) in base64, URI-encoded.
const sign = (value) => encodeURIComponent(`${value}.${createHmac("sha256", secret).update(value).digest("base64")}`);
const TOKEN_COOKIE = "better-auth.session_token";

const exact = [];
const cached = [];
for (let i = 0; i < Number(count); i++) {
  const user = await ctx.internalAdapter.createUser({ email: `peer-${i}@example.com`, name: `peer ${i}`, emailVerified: true });
  const session = await ctx.internalAdapter.createSession(user.id);
  const cookie = `${TOKEN_COOKIE}=${sign(session.token)}`;
  const response = await auth.handler(new Request("http://127.0.0.1/api/auth/get-session", { headers: { cookie } }));
  if (response.status !== 200) throw new Error(`get-session answered ${response.status}`);
  const data = response.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .find((c) => c.startsWith("better-auth.session_data="));
  if (data === undefined) throw new Error("better-auth set no session_data cookie with its cookie cache on");
  exact.push(cookie);
  cached.push(`${cookie}; ${data}`);
}
const write = (name, lines) => {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join("\n")}\n`);
  writeFileSync(`${path}.json`, JSON.stringify(lines));
  return path;
};
process.stdout.write(
  `${JSON.stringify({ sessions: exact.length, exactCookies: write("better-auth-exact.txt", exact), cachedCookies: write("better-auth-cached.txt", cached) })}\n`,
);
process.exit(0);
