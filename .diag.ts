import { Redis } from "ioredis";
import pg from "pg";
import { createAuth } from "./src/core/create-auth.js";
const admin = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres" });
await admin.connect(); await admin.query("DROP DATABASE IF EXISTS tokenver_diag"); await admin.query("CREATE DATABASE tokenver_diag");
const raw = new Redis("redis://127.0.0.1:6379");
const stats = async () => { const s = await raw.info("commandstats"); const g = (c: string) => Number(new RegExp(`cmdstat_${c}:calls=(\\d+)`).exec(s)?.[1] ?? 0); return { mget: g("mget"), evalsha: g("evalsha"), eval: g("eval") }; };
const auth = await createAuth({ databaseUrl: "postgres://postgres@127.0.0.1:5432/tokenver_diag", redisUrl: "redis://127.0.0.1:6379", redisPrefix: "diag:", secret: "x".repeat(40), redisEntryTtl: 3 });
const tokens: string[] = [];
for (let i = 0; i < 20; i++) tokens.push((await auth.register({ email: `d${i}@example.com`, password: "a long and unguessable passphrase" })).access);
await new Promise((r) => setTimeout(r, 3200));
for (let pass = 0; pass < 3; pass++) {
  const before = await stats();
  for (const t of tokens) await auth.verify(`Bearer ${t}`);
  const after = await stats();
  console.log("pass", pass, { mget: after.mget - before.mget, evalsha: after.evalsha - before.evalsha, eval: after.eval - before.eval });
}
await auth.close(); raw.disconnect();
await admin.query("DROP DATABASE tokenver_diag WITH (FORCE)"); await admin.end();
