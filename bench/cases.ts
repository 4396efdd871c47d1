/**
 * The cases of the benchmark (docs/benchmark.md, "The cases"): which servers each one drives, on
 * which route, and which case is its ceiling. Starts those servers, and the PostgreSQL database
 * and Redis prefix of cases 3 when the services answer; a case that cannot run is listed as
 * skipped, with the reason.
 */
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { ACCESS_TTL, EXAMPLE, REDIS_ENTRY_TTL, ROOT, SECRET } from "./constants.js";
import { benchKey, writeTokenFiles, type SqliteFiles } from "./data.js";
import type { Options } from "./options.js";
import { startServer, tsxArgs, type Server } from "./processes.js";
import { seedPostgres, type SeedSpec } from "./seed.js";
import { deleteRedisPrefix, reachablePostgres, reachableRedis, withAdmin } from "./services.js";

export interface Case {
  id: string;
  label: string;
  /** What a request costs there, for the reader. */
  measures: string;
  servers: Server[];
  path: string;
  /** The case whose req/s and CPU per request this one is compared with (the same work without tokenver). */
  baseline: string;
  /** Its tokens file, when not the tokens of the seeded sessions ("-": no Authorization header). */
  tokens?: { json: string; text: string };
  storm?: { server: Server; loginPath: string };
  /** Another process verifies argon2id hashes at the storm's rate meanwhile (bench/hash-load.ts): the storm's work without its logins. */
  hashLoad?: boolean;
  /** The server answers GET /bench/event-loop (bench/app-server.ts): its event-loop delay is read around each round. */
  eventLoop?: boolean;
  /** Requests a second at a fixed pace (load.ts `ratePerSecond`); undefined: as fast as the server answers. */
  rate?: number;
}

export interface Skipped {
  id: string;
  label: string;
  reason: string;
}

export interface CaseSet {
  cases: Case[];
  skipped: Skipped[];
  /** When the Redis nodes trust Redis (one entry lifetime after start); 0 without them. */
  redisTrustedAt: number;
  /** The bench app (tokenver's server, SQLite): the write paths are measured there. */
  benchApp: Server;
  /** The prepared-read ceiling (the peer is compared with it too). */
  ceiling: Server;
}

export interface CaseContext {
  options: Options;
  /** The run's temporary directory: the cases with their own keys write their database copies and tokens there. */
  dir: string;
  /** The seeded sessions the load's tokens belong to. */
  sessions: number[];
  files: SqliteFiles;
  seedSpec: SeedSpec;
  /** Every server started is added here, so the run can stop them all. */
  servers: Server[];
  /** Undone in reverse order when the run ends. */
  cleanups: (() => Promise<void>)[];
  log: (message: string) => void;
}

/** Generous limits: the bench logs thousands of users in from one address; the throttles are tested elsewhere. */
const UNTHROTTLED: Record<string, string> = {
  TOKENVER_RATE_LIMIT_ACCOUNT: "1000000",
  TOKENVER_RATE_LIMIT_ADDRESS: "1000000",
  TOKENVER_RATE_LIMIT_REGISTER: "1000000",
  TOKENVER_RATE_LIMIT_ADDRESS_LOGINS: "1000000",
};

export async function setUpCases({ options, dir, sessions, files, seedSpec, servers, cleanups, log }: CaseContext): Promise<CaseSet> {
  const common: Record<string, string> = { TOKENVER_SECRET: SECRET, TOKENVER_ACCESS_TTL: String(ACCESS_TTL), ...UNTHROTTLED };
  if (options.threadpool !== undefined) common.UV_THREADPOOL_SIZE = String(options.threadpool);
  const cases: Case[] = [];
  const skipped: Skipped[] = [];
  let redisTrustedAt = 0;
  const start = async (name: string, args: string[], env: Record<string, string>) => {
    const server = await startServer(name, args, { ...common, ...env });
    servers.push(server);
    return server;
  };
  const wanted = (prefix: string) => options.only === undefined || options.only.some((id) => id.startsWith(prefix));

  const limit = await start("limit", tsxArgs("bench/limit-server.ts"), { LIMIT_VERIFIER: "fast-jwt" });
  cases.push({
    id: "hello",
    label: "0 hello: static route, no auth",
    measures: "the limit server's public route: Fastify and the load generator (the load generator's ceiling here)",
    servers: [limit],
    path: "/hello",
    baseline: "hello",
    tokens: { json: "-", text: "-" },
  });
  cases.push({
    id: "limit",
    label: "1 limit: Fastify + fast-jwt verify",
    measures: "fast-jwt's HS256 verifier on every request, no revocation check, a constant body",
    servers: [limit],
    path: "/notes",
    baseline: "limit",
  });
  if (wanted("limit-cache")) {
    const limitCache = await start("limit-cache", tsxArgs("bench/limit-server.ts"), { LIMIT_VERIFIER: "fast-jwt-cache" });
    cases.push({
      id: "limit-cache",
      label: "1b limit, fast-jwt's own cache",
      measures: "as 1, with fast-jwt's verified-token cache (20,000 entries, like tokenver's)",
      servers: [limitCache],
      path: "/notes",
      baseline: "limit",
    });
  }
  if (wanted("limit-tokenver")) {
    const limitOwn = await start("limit-tokenver", tsxArgs("bench/limit-server.ts"), { LIMIT_VERIFIER: "tokenver" });
    cases.push({
      id: "limit-tokenver",
      label: "1d limit, tokenver's verifier",
      measures: "as 1, with tokenver's own verifier (the same checks, its exact-token-string cache): the stricter limit",
      servers: [limitOwn],
      path: "/notes",
      baseline: "limit",
    });
  }
  const ceiling = await start("prepared-read", tsxArgs("bench/prepared-read-server.ts"), {
    TOKENVER_DATABASE_URL: `sqlite:${files.ceiling}`,
  });
  cases.push({
    id: "prepared-read",
    label: "1c ceiling: fast-jwt + prepared user read",
    measures: "as 1, plus the user row by primary key (better-sqlite3 prepared statement) answered through a response schema",
    servers: [ceiling],
    path: "/profile",
    baseline: "prepared-read",
  });

  if (wanted("prepared-read-tokenver")) {
    const ceilingOwn = await start("prepared-read-tokenver", tsxArgs("bench/prepared-read-server.ts"), {
      TOKENVER_DATABASE_URL: `sqlite:${files.ceiling}`,
      LIMIT_VERIFIER: "tokenver",
    });
    cases.push({
      id: "prepared-read-tokenver",
      label: "1e ceiling, tokenver's verifier",
      measures: "as 1c, with tokenver's own verifier and its cache: the stricter ceiling",
      servers: [ceilingOwn],
      path: "/profile",
      baseline: "prepared-read",
    });
  }

  // The example app when it exists (another team's code, used as a user would), else bench/app-server.ts.
  const example = existsSync(join(ROOT, EXAMPLE));
  const app = example
    ? await start("example-app", tsxArgs(EXAMPLE), { TOKENVER_DATABASE_URL: `sqlite:${files.app}` })
    : await start("sqlite-app", tsxArgs("bench/app-server.ts"), { TOKENVER_DATABASE_URL: `sqlite:${files.app}`, TOKENVER_BENCH_ELD: "1" });
  // The same route and body as the limit, on the tokenver server (buildServer + plugin): the
  // difference to case 1 is exactly the revocation check and tokenver's plumbing.
  const benchApp = example
    ? await start("sqlite-bench-app", tsxArgs("bench/app-server.ts"), {
        TOKENVER_DATABASE_URL: `sqlite:${files.bench}`,
        TOKENVER_BENCH_ELD: "1",
      })
    : app;
  const cliArgs = options.dist ? [join(ROOT, "dist/cli.js"), "serve"] : tsxArgs("src/cli.ts", "serve");
  const cli = await start("sqlite-cli", cliArgs, { TOKENVER_DATABASE_URL: `sqlite:${files.cli}` });
  cases.push({
    id: "sqlite-notes",
    label: example ? "2a SQLite, example app GET /notes" : "2a SQLite, protected route",
    measures: `verify + revocation check (local cache over a prepared statement); ${example ? EXAMPLE : "bench/app-server.ts"}`,
    servers: [app],
    path: "/notes",
    baseline: "limit",
    eventLoop: !example,
  });
  if (example) {
    cases.push({
      id: "sqlite-bench",
      label: "2c SQLite, bench app GET /notes",
      measures: "verify + revocation check; bench/app-server.ts: tokenver's server with the limit's route and body",
      servers: [benchApp],
      path: "/notes",
      baseline: "limit",
      eventLoop: true,
    });
  }
  cases.push({
    id: "sqlite-profile",
    label: "2b SQLite, GET /profile (CLI)",
    measures: "verify + revocation check + the user-row read (prepared statement) /profile does to return the user",
    servers: [cli],
    path: "/profile",
    baseline: "prepared-read",
  });
  // The same route with the asymmetric algorithms of docs/api.md section 7 beside HS256 (2b): the
  // server's key is given (TOKENVER_SIGNING_KEY) so the load's tokens are minted here, with its kid.
  // Each server has its own copy of the database (one writer per file: it stores its key there).
  for (const [id, alg, label] of [
    ["sqlite-profile-eddsa", "EdDSA", "2d"],
    ["sqlite-profile-es256", "ES256", "2e"],
  ] as const) {
    if (!wanted(id)) continue;
    const key = await benchKey(alg);
    const database = join(dir, `bench-cli-${alg.toLowerCase()}.db`);
    copyFileSync(files.cli, database);
    const tokens = { json: join(dir, `tokens-${alg.toLowerCase()}.json`), text: join(dir, `tokens-${alg.toLowerCase()}.txt`) };
    writeTokenFiles(tokens, sessions, key);
    const server = await start(id, cliArgs, {
      TOKENVER_DATABASE_URL: `sqlite:${database}`,
      TOKENVER_SIGNING_ALG: alg,
      TOKENVER_SIGNING_KEY: key.pem,
    });
    cases.push({
      id,
      label: `${label} SQLite, GET /profile (CLI), ${alg}`,
      measures: `as 2b, with ${alg} access tokens (${alg === "EdDSA" ? "Ed25519" : "P-256"}) verified by the key their kid names, instead of HS256`,
      servers: [server],
      path: "/profile",
      baseline: "prepared-read",
      tokens,
    });
  }

  const pgProblem = wanted("pg") ? await reachablePostgres(options.pg) : "not selected (--only)";
  const redisProblem = pgProblem ?? (await reachableRedis(options.redis));
  if (pgProblem === undefined) {
    const started = Date.now();
    const name = `tokenver_bench_${process.pid}`;
    await withAdmin(options.pg, (c) => c.query(`CREATE DATABASE ${name}`));
    cleanups.push(() => withAdmin(options.pg, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}));
    const url = new URL(options.pg);
    url.pathname = `/${name}`;
    const pgUrl = url.toString();
    await seedPostgres(pgUrl, seedSpec);
    log(`seeded PostgreSQL in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    // The PostgreSQL nodes run the library in a Fastify app (bench/plugin-app.ts), as 2a runs the
    // example app: beside the limit the difference is tokenver's check, not the CLI server's plumbing.
    const pgOnly = await start("pg", tsxArgs("bench/plugin-app.ts"), { TOKENVER_DATABASE_URL: pgUrl });
    cases.push({
      id: "pg-1",
      label: "3a PostgreSQL only, 1 node",
      measures: "verify + one PostgreSQL query per request; bench/plugin-app.ts: Fastify + the tokenver plugin",
      servers: [pgOnly],
      path: "/notes",
      baseline: "limit",
    });

    if (redisProblem === undefined) {
      const prefix = `tokenver-bench:${process.pid}:`;
      cleanups.push(() => deleteRedisPrefix(options.redis, prefix));
      // Default settings but the entry lifetime (see REDIS_ENTRY_TTL). A node reads (and caches)
      // Redis only once it has seen it answer for one entry lifetime (older entries could be
      // stale), so the rounds wait for that.
      const env = {
        TOKENVER_DATABASE_URL: pgUrl,
        TOKENVER_REDIS_URL: options.redis,
        TOKENVER_REDIS_PREFIX: prefix,
        TOKENVER_REDIS_ENTRY_TTL: String(REDIS_ENTRY_TTL),
      };
      redisTrustedAt = Date.now() + REDIS_ENTRY_TTL * 1000 + 1000;
      try {
        const nodeA = await start("pg-redis-a", tsxArgs("bench/plugin-app.ts"), env);
        const nodeB = await start("pg-redis-b", tsxArgs("bench/plugin-app.ts"), env);
        cases.push({
          id: "pgredis-1",
          label: "3b PostgreSQL + Redis, 1 node",
          measures: "verify + node cache kept exact over Redis; bench/plugin-app.ts: Fastify + the tokenver plugin",
          servers: [nodeA],
          path: "/notes",
          baseline: "limit",
        });
        cases.push({
          id: "pgredis-2",
          label: "3c PostgreSQL + Redis, 2 nodes",
          measures: "as 3b, load split over two processes",
          servers: [nodeA, nodeB],
          path: "/notes",
          baseline: "limit",
        });
        cases.push({
          id: "pgredis-profile",
          label: "3d PostgreSQL + Redis, GET /profile",
          measures: "as 3b, plus the user row: from the node's memory, kept exact like the revocation state; a miss reads PostgreSQL",
          servers: [nodeA],
          path: "/profile",
          baseline: "prepared-read",
        });
      } catch (error) {
        skipped.push({
          id: "pgredis",
          label: "3b/3c/3d PostgreSQL + Redis",
          reason: `the server did not start: ${(error as Error).message}`,
        });
      }
    } else {
      skipped.push({ id: "pgredis", label: "3b/3c/3d PostgreSQL + Redis", reason: redisProblem });
    }
  } else {
    skipped.push({ id: "pg", label: "3 PostgreSQL (+ Redis)", reason: pgProblem });
  }

  cases.push({
    id: "sqlite-bench-storm",
    label: `4 as ${example ? "2c" : "2a"} + ${options.stormRate} logins/s`,
    measures: "the bench app while another process logs seeded users in (argon2 on the thread pool of the same server)",
    servers: [benchApp],
    path: "/notes",
    baseline: "limit",
    storm: { server: benchApp, loginPath: "/login" },
    eventLoop: true,
  });
  // The same storm under a load the server carries without saturating: the event-loop delay then
  // measures what the design does to the loop (argon2 off the main thread), not a queue for the
  // two cores. The verdict on the storm is this pair's (report.ts).
  const paced = `${options.pacedRate.toLocaleString("en-US")} req/s`;
  cases.push({
    id: "sqlite-bench-paced",
    label: `4a ${example ? "2c" : "2a"} paced at ${paced}`,
    measures: "the bench app at a fixed pace of requests, well below what it can serve",
    servers: [benchApp],
    path: "/notes",
    baseline: "sqlite-bench-paced",
    eventLoop: true,
    rate: options.pacedRate,
  });
  cases.push({
    id: "sqlite-bench-paced-storm",
    label: `4b as 4a + ${options.stormRate} logins/s`,
    measures: "the paced bench app while another process logs seeded users in",
    servers: [benchApp],
    path: "/notes",
    baseline: "sqlite-bench-paced",
    storm: { server: benchApp, loginPath: "/login" },
    eventLoop: true,
    rate: options.pacedRate,
  });
  // The control: the limit server (no tokenver, no store) at the same pace, in a process of its own
  // so the baselines run without the monitor's timer. Its delay is what this machine gives any Node
  // server under that load: the floor under the storm's verdict.
  if (options.only === undefined || options.only.some((id) => id.startsWith("sqlite-bench-paced") || id === "limit-paced")) {
    const limitPaced = await start("limit-paced", tsxArgs("bench/limit-server.ts"), {
      LIMIT_VERIFIER: "fast-jwt",
      TOKENVER_BENCH_ELD: "1",
    });
    cases.push({
      id: "limit-paced",
      label: `4c limit paced at ${paced} (control)`,
      measures: "the limit server at the paced load of 4a: the event-loop delay of a Node server without tokenver on this machine",
      servers: [limitPaced],
      path: "/notes",
      baseline: "limit-paced",
      eventLoop: true,
      rate: options.pacedRate,
    });
    // The same control while the storm's argon2id work runs in a process of its own: the delay any
    // Node server has here while the cores hash at the storm's rate, the floor under 4b.
    cases.push({
      id: "limit-paced-hashing",
      label: `4d as 4c + argon2id at ${options.stormRate}/s in another process (control)`,
      measures: "the paced limit server while another process hashes at the storm's rate: the machine's floor under the storm",
      servers: [limitPaced],
      path: "/notes",
      baseline: "limit-paced",
      eventLoop: true,
      rate: options.pacedRate,
      hashLoad: true,
    });
  }

  if (options.only !== undefined) {
    const keep = new Set(["hello", "limit", "prepared-read", "limit-paced", "limit-paced-hashing", ...options.only]);
    // A case's baseline always runs with it.
    for (const c of cases) if (keep.has(c.id)) keep.add(c.baseline);
    cases.splice(0, cases.length, ...cases.filter((c) => keep.has(c.id)));
  }
  return { cases, skipped, redisTrustedAt, benchApp, ceiling };
}
