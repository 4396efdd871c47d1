/**
 * `npm run bench`: how much does the revocation check cost? Starts every server as its own
 * process, drives each from another process (bench/load.ts, autocannon), several short rounds in
 * turns (A B C A B C ...) so drift cancels, and reports medians and the ratio to the limit.
 * See docs/benchmark.md.
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { createAccessTokenSigner } from "../src/core/tokens/access-token.js";
import { hashPassword, verifyPassword } from "../src/core/passwords/password.js";
import { renderChart } from "./chart.js";
import type { LoadResult, LoadSpec } from "./load.js";
import { seedPostgres, seedSqlite, sessionId, userEmail, userId } from "./seed.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SECRET = "bench-secret-bench-secret-bench-secret-0123456789";
const PASSWORD = "bench password that is long enough";
const ACCESS_TTL = 3600;
const CONNECTIONS = 10;
const EXAMPLE = "examples/fastify-notes/server.ts";
/**
 * TOKENVER_REDIS_ENTRY_TTL of the Redis cases (default 60): also how long nodes wait to trust Redis
 * and how long a node keeps an entry. Rounds come back to a session every ~45 s, so with 60 s about
 * half the requests would be refills of expired entries: 120 s measures the hit path, the
 * steady state of a node whose sessions come back within a minute.
 */
const REDIS_ENTRY_TTL = 120;

// ------------------------------------------------------------------------------------------------
// Options

interface Options {
  rounds: number;
  duration: number;
  users: number;
  tokens: number;
  stormRate: number;
  out: string | undefined;
  pg: string;
  redis: string;
  dist: boolean;
  /** Case ids to run (the limit always runs); undefined: all. */
  only: string[] | undefined;
  /** UV_THREADPOOL_SIZE for the tokenver servers (argon2 runs there); undefined: Node's default (4). */
  threadpool: number | undefined;
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string" },
      duration: { type: "string" },
      users: { type: "string" },
      tokens: { type: "string" },
      "storm-rate": { type: "string" },
      out: { type: "string" },
      pg: { type: "string" },
      redis: { type: "string" },
      quick: { type: "boolean", default: false },
      dist: { type: "boolean", default: false },
      only: { type: "string" },
      threadpool: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      "npm run bench -- [--rounds N=5] [--duration S=4] [--users N=10000] [--tokens N=20000] [--storm-rate N=50]\n" +
        "                 [--out DIR] [--pg URL] [--redis URL] [--quick] [--dist] [--only sqlite-notes,pgredis-1,...] [--threadpool N]\n",
    );
    process.exit(0);
  }
  const quick = values.quick;
  const number = (value: string | undefined, fallback: number, name: string): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  const users = Math.floor(number(values.users, quick ? 2000 : 10_000, "users"));
  return {
    rounds: Math.floor(number(values.rounds, quick ? 2 : 5, "rounds")),
    duration: number(values.duration, quick ? 2 : 4, "duration"),
    users,
    tokens: Math.min(2 * users, Math.floor(number(values.tokens, quick ? 2000 : 20_000, "tokens"))),
    stormRate: number(values["storm-rate"], 50, "storm-rate"),
    out: values.out,
    pg: values.pg ?? process.env.TOKENVER_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    redis: values.redis ?? process.env.TOKENVER_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379",
    dist: values.dist,
    threadpool: values.threadpool === undefined ? undefined : Math.floor(number(values.threadpool, 4, "threadpool")),
    only: values.only
      ?.split(",")
      .map((id) => id.trim())
      .filter((id) => id.length > 0),
  };
}

// ------------------------------------------------------------------------------------------------
// Processes

interface Server {
  name: string;
  url: string;
  child: ChildProcess;
  stderr: string[];
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}

function tsxArgs(file: string, ...args: string[]): string[] {
  return ["--import", "tsx", join(ROOT, file), ...args];
}

/** Starts a server process and waits until GET /health answers 200. */
async function startServer(name: string, args: string[], env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: "127.0.0.1", TOKENVER_LOG_LEVEL: "warn", NODE_ENV: "production" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const stderr: string[] = [];
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => stderr.push(chunk));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      if ((await fetch(`${url}/health`)).status === 200) return { name, url, child, stderr };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill("SIGKILL");
  const reason =
    stderr
      .join("")
      .split("\n")
      .find((line) => line.trim().length > 0) ?? "did not become healthy";
  throw new Error(`${name}: ${reason.trim()}`);
}

async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((r) => server.child.once("exit", r));
  server.child.kill("SIGTERM");
  await Promise.race([exited, sleep(5000)]);
  if (server.child.exitCode === null) server.child.kill("SIGKILL");
}

/** Runs a node script to completion and returns its last stdout line, parsed as JSON. */
function runJson<T>(args: string[]): Promise<T> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    child.on("exit", (code) => {
      const last = out.trim().split("\n").pop() ?? "";
      if (code === 0 && last.startsWith("{")) resolveRun(JSON.parse(last) as T);
      else reject(new Error(`${args.join(" ")} exited ${code}: ${err.trim().split("\n").slice(-3).join(" | ")}`));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU milliseconds (user + system) a process has used so far, from /proc (Linux); undefined
 * elsewhere. CPU per request is the contention-proof figure: on shared cores req/s also measures
 * the neighbours, but the work a request costs the server does not change with them.
 */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start at index 2 (state).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

function serversCpuMs(servers: Server[]): number | undefined {
  let total = 0;
  for (const s of servers) {
    const ms = cpuMs(s.child.pid);
    if (ms === undefined) return undefined;
    total += ms;
  }
  return total;
}

// ------------------------------------------------------------------------------------------------
// Cases

interface Case {
  id: string;
  label: string;
  /** What a request costs there, for the reader. */
  measures: string;
  servers: Server[];
  path: string;
  storm?: { server: Server; loginPath: string };
}

interface CaseResult {
  id: string;
  label: string;
  measures: string;
  rounds: Measured[];
  storms: StormResult[];
  rps: number;
  /** Server CPU time per request, µs (median); undefined without /proc. */
  cpuUsPerRequest: number | undefined;
  /** Limit's CPU per request / this case's: the throughput ratio on a dedicated core. */
  cpuRatio: number | undefined;
  p50: number;
  p99: number;
  errors: number;
  ratio: number;
}

interface StormResult {
  attempted: number;
  ok: number;
  others: Record<string, number>;
  /** From the first login sent to the last answered. */
  seconds: number;
  /** Latency of the successful logins, ms. */
  p50: number;
  p99: number;
  max: number;
}

interface Skipped {
  id: string;
  label: string;
  reason: string;
}

type Measured = LoadResult & { cpuUsPerRequest: number | undefined };

async function runCase(c: Case, seconds: number, work: Work): Promise<{ load: Measured; storm?: StormResult }> {
  const cpuBefore = serversCpuMs(c.servers);
  const { load, storm } = await driveCase(c, seconds, work);
  const cpuAfter = serversCpuMs(c.servers);
  const cpuUsPerRequest =
    cpuBefore === undefined || cpuAfter === undefined || load.requests === 0 ? undefined : ((cpuAfter - cpuBefore) * 1000) / load.requests;
  return { load: { ...load, cpuUsPerRequest }, ...(storm === undefined ? {} : { storm }) };
}

/** The load generator: one forked process for the whole run, one measurement per message. */
class LoadGenerator {
  readonly #child: ChildProcess;
  #pending: { resolve: (r: LoadResult) => void; reject: (e: Error) => void } | undefined;

  constructor() {
    this.#child = fork(join(ROOT, "bench/load.ts"), [], {
      cwd: ROOT,
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.#child.on("message", (message: { result?: LoadResult; error?: string }) => {
      const pending = this.#pending;
      this.#pending = undefined;
      if (message.result !== undefined) pending?.resolve(message.result);
      else pending?.reject(new Error(`load generator: ${message.error}`));
    });
    this.#child.on("exit", (code) => this.#pending?.reject(new Error(`load generator exited ${code}`)));
  }

  measure(spec: LoadSpec): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#child.send(spec);
    });
  }

  stop(): void {
    this.#child.kill("SIGTERM");
  }
}

async function driveCase(c: Case, seconds: number, work: Work): Promise<{ load: LoadResult; storm?: StormResult }> {
  const connections = Math.max(1, Math.floor(CONNECTIONS / c.servers.length));
  const spec: LoadSpec = {
    targets: c.servers.map((s) => ({ url: s.url, connections })),
    path: c.path,
    durationSeconds: seconds,
    tokensFile: work.tokensFile,
  };
  if (c.storm === undefined) return { load: await work.load.measure(spec) };
  // The storm starts with the load and runs slightly longer, so every measured second has logins.
  const storm = runJson<StormResult>(
    tsxArgs(
      "bench/storm.ts",
      c.storm.server.url + c.storm.loginPath,
      work.emailsFile,
      PASSWORD,
      String(work.stormRate),
      String(seconds + 2),
    ),
  );
  // Give the storm process its start-up time, so logins are already running when the load starts.
  await sleep(700);
  const [load, stormResult] = await Promise.all([work.load.measure(spec), storm]);
  return { load, storm: stormResult };
}

interface Work {
  dir: string;
  tokensFile: string;
  emailsFile: string;
  stormRate: number;
  load: LoadGenerator;
}

// ------------------------------------------------------------------------------------------------
// Set-up: data, tokens, servers

/** A random sample of session indices (with their users), so load spreads over many sessions. */
function sampleSessions(users: number, count: number): number[] {
  const picked = new Set<number>();
  while (picked.size < count) picked.add(Math.floor(Math.random() * 2 * users));
  return [...picked];
}

function mintTokens(sessions: number[]): string[] {
  const sign = createAccessTokenSigner({ secret: SECRET, issuer: "tokenver", ttl: ACCESS_TTL, clockTolerance: 5, clock: Date.now });
  return sessions.map((k) => sign(userId(Math.floor(k / 2)), sessionId(k), 0));
}

async function reachablePostgres(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (error) {
    return `PostgreSQL not reachable at --pg (${(error as { code?: string }).code ?? "error"})`;
  } finally {
    await client.end().catch(() => {});
  }
}

async function reachableRedis(url: string): Promise<string | undefined> {
  const { Redis } = await import("ioredis");
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    return `Redis not reachable at --redis (${(error as { code?: string }).code ?? "error"})`;
  } finally {
    redis.disconnect();
  }
}

async function withAdmin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const { Redis } = await import("ioredis");
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

// ------------------------------------------------------------------------------------------------
// Report

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function summarise(c: Case, rounds: Measured[], storms: StormResult[], limitRps: number, limitCpu: number | undefined): CaseResult {
  const rps = median(rounds.map((r) => r.rps));
  const cpus = rounds.map((r) => r.cpuUsPerRequest);
  const cpuUsPerRequest = cpus.every((x): x is number => x !== undefined) ? median(cpus) : undefined;
  return {
    id: c.id,
    label: c.label,
    measures: c.measures,
    rounds,
    storms,
    rps,
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    errors: rounds.reduce((n, r) => n + r.errors + r.non2xx, 0),
    ratio: limitRps > 0 ? rps / limitRps : 0,
    cpuUsPerRequest,
    cpuRatio: cpuUsPerRequest !== undefined && limitCpu !== undefined && cpuUsPerRequest > 0 ? limitCpu / cpuUsPerRequest : undefined,
  };
}

function printTable(results: CaseResult[], skipped: Skipped[]): void {
  const rows = [
    ["case", "req/s", "p50 ms", "p99 ms", "errors", "vs limit", "CPU µs/req", "vs limit by CPU"],
    ...results.map((r) => [
      r.label,
      Math.round(r.rps).toLocaleString("en-US"),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      String(r.errors),
      r.ratio.toFixed(2),
      r.cpuUsPerRequest === undefined ? "-" : r.cpuUsPerRequest.toFixed(1),
      r.cpuRatio === undefined ? "-" : r.cpuRatio.toFixed(2),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  process.stdout.write(`\n${line(rows[0]!)}\n${widths.map((w) => "-".repeat(w)).join("  ")}\n`);
  for (const row of rows.slice(1)) process.stdout.write(`${line(row)}\n`);
  for (const s of skipped) process.stdout.write(`${s.label.padEnd(widths[0]!)}  skipped: ${s.reason}\n`);
}

/** What one login's argon2id verification costs on this machine, measured before any server runs. */
async function timeArgon2(passwordHash: string): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < ARGON2_SAMPLES; i++) {
    const started = performance.now();
    if (!(await verifyPassword(passwordHash, PASSWORD))) throw new Error("argon2 verification failed");
    samples.push(performance.now() - started);
  }
  return median(samples);
}

const ARGON2_SAMPLES = 7;

function verdicts(results: CaseResult[], machine: { argon2Ms: number; stormRate: number; cores: number }): string[] {
  const by = new Map(results.map((r) => [r.id, r]));
  const lines: string[] = [];
  const hello = by.get("hello");
  const limit = by.get("limit");
  if (hello && limit && hello.rps < 1.1 * limit.rps) {
    lines.push(
      `NOTE  hello is only ${(hello.rps / limit.rps).toFixed(2)}x the limit in req/s: the load generator or other work on these cores, ` +
        "not the server, set the pace; read the CPU-per-request ratios",
    );
  }
  const target = (id: string, min: number) => {
    const r = by.get(id);
    if (!r) return;
    const cpu = r.cpuRatio === undefined ? "" : `, ${r.cpuRatio.toFixed(2)} by server CPU per request`;
    const pass = r.ratio >= min && (r.cpuRatio === undefined || r.cpuRatio >= min);
    lines.push(`${pass ? "PASS" : "MISS"}  ${r.label}: ${r.ratio.toFixed(2)} of the limit in req/s${cpu} (target >= ${min.toFixed(2)})`);
  };
  target("sqlite-notes", 0.9);
  target("sqlite-bench", 0.9);
  target("pgredis-1", 0.8);
  target("pgredis-2", 0.8);
  for (const r of results) {
    if (r.id !== "hello" && r.id !== "limit" && r.id !== "sqlite-notes-storm") {
      lines.push(`${r.p99 < 5 ? "PASS" : "MISS"}  ${r.label}: p99 ${r.p99.toFixed(2)} ms (target < 5 ms)`);
    }
  }
  const calm = by.get("sqlite-notes");
  const storm = by.get("sqlite-notes-storm");
  if (calm && storm) {
    const factor = storm.p99 / Math.max(calm.p99, 0.01);
    const logins = storm.storms.reduce((n, s) => n + s.ok, 0);
    const attempted = storm.storms.reduce((n, s) => n + s.attempted, 0);
    // A storm whose logins failed (throttled, refused) cost the route nothing: no verdict from it.
    const verdict = logins < 0.95 * attempted ? "VOID" : factor < 2 ? "PASS" : "MISS";
    lines.push(
      `${verdict}  login storm: protected-route p99 ${calm.p99.toFixed(2)} -> ${storm.p99.toFixed(2)} ms, x${factor.toFixed(2)} (target < x2)`,
    );
    // Logins must keep up too: a storm that is cheap for the route because logins starve is no pass.
    const rate = median(storm.storms.map((s) => s.ok / s.seconds));
    const [p50, p99] = [median(storm.storms.map((s) => s.p50)), median(storm.storms.map((s) => s.p99))];
    lines.push(
      `      storm logins: ${logins} of ${attempted} succeeded, ${rate.toFixed(1)}/s, latency p50 ${p50} ms, p99 ${p99} ms (medians of rounds)`,
    );
    // The storm's CPU comes out of the cores that run the route and the load generator: say how much.
    const demand = (machine.stormRate * machine.argon2Ms) / 1000;
    lines.push(
      `      argon2id alone: ${machine.argon2Ms.toFixed(1)} ms per login, so ${machine.stormRate} logins/s need ${demand.toFixed(2)} ` +
        `of ${machine.cores} cores (${Math.round((100 * demand) / machine.cores)}%) beside the server and the load generator`,
    );
  }
  return lines;
}

// ------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = readOptions();
  const dir = mkdtempSync(join(tmpdir(), "tokenver-bench-"));
  const servers: Server[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const log = (message: string) => process.stdout.write(`bench: ${message}\n`);
  const stopAll = async () => {
    await Promise.all(servers.map(stopServer));
    for (const cleanup of cleanups.reverse()) await cleanup().catch((e) => log(`cleanup failed: ${(e as Error).message}`));
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));

  try {
    const [load1] = loadavg();
    if (load1! > 1.5) log(`warning: load average ${load1!.toFixed(1)} before start: other work shares these cores, figures will be noisy`);
    log(
      `${options.users.toLocaleString("en-US")} users, ${(2 * options.users).toLocaleString("en-US")} sessions, ${options.tokens.toLocaleString("en-US")} distinct tokens, ` +
        `${options.rounds} rounds x ${options.duration}s, ${CONNECTIONS} connections`,
    );
    const passwordHash = await hashPassword(PASSWORD);
    const argon2Ms = await timeArgon2(passwordHash);
    log(`argon2id verify: ${argon2Ms.toFixed(1)} ms alone (median of ${ARGON2_SAMPLES})`);
    const seedSpec = { users: options.users, passwordHash, expiresAt: Date.now() + 14 * 86_400_000 };

    let started = Date.now();
    const sqliteFile = join(dir, "bench.db");
    await seedSqlite(sqliteFile, seedSpec);
    // The CLI server and the embedded app each own a database file: one writer per file, so each
    // process's local cache is exact (the storm's logins write to the app's file only).
    const sqliteCliFile = join(dir, "bench-cli.db");
    copyFileSync(sqliteFile, sqliteCliFile);
    const sqliteBenchFile = join(dir, "bench-app.db");
    copyFileSync(sqliteFile, sqliteBenchFile);
    log(`seeded SQLite in ${((Date.now() - started) / 1000).toFixed(1)}s`);

    const sessions = sampleSessions(options.users, options.tokens);
    const load = new LoadGenerator();
    cleanups.push(async () => load.stop());
    const work: Work = {
      dir,
      tokensFile: join(dir, "tokens.json"),
      emailsFile: join(dir, "emails.json"),
      stormRate: options.stormRate,
      load,
    };
    writeFileSync(work.tokensFile, JSON.stringify(mintTokens(sessions)));
    writeFileSync(work.emailsFile, JSON.stringify(sessions.slice(0, 5000).map((k) => userEmail(Math.floor(k / 2)))));

    const common: Record<string, string> = { TOKENVER_SECRET: SECRET, TOKENVER_ACCESS_TTL: String(ACCESS_TTL) };
    if (options.threadpool !== undefined) common.UV_THREADPOOL_SIZE = String(options.threadpool);
    const cases: Case[] = [];
    const skipped: Skipped[] = [];
    let redisTrustedAt = 0;
    const start = async (name: string, args: string[], env: Record<string, string>) => {
      const server = await startServer(name, args, { ...common, ...env });
      servers.push(server);
      return server;
    };

    const limit = await start("limit", tsxArgs("bench/limit-server.ts"), {});
    cases.push({
      id: "hello",
      label: "0 hello: no auth at all",
      measures: "the same Fastify server, a public route: the ceiling of server + load generator",
      servers: [limit],
      path: "/hello",
    });
    cases.push({
      id: "limit",
      label: "1 limit: signature only",
      measures: "Fastify + fast-jwt verify, no revocation check",
      servers: [limit],
      path: "/notes",
    });

    // The example app when it exists (another team's code, used as a user would), else bench/app-server.ts.
    const example = existsSync(join(ROOT, EXAMPLE));
    const app = example
      ? await start("example-app", tsxArgs(EXAMPLE), { TOKENVER_DATABASE_URL: `sqlite:${sqliteFile}` })
      : await start("sqlite-app", tsxArgs("bench/app-server.ts"), { TOKENVER_DATABASE_URL: `sqlite:${sqliteFile}` });
    const appLogin = example ? "/auth/login" : "/login";
    // The same route and body as the limit, on the tokenver server (buildServer + plugin): the
    // difference to case 1 is exactly the revocation check and tokenver's plumbing.
    const benchApp = example
      ? await start("sqlite-bench-app", tsxArgs("bench/app-server.ts"), { TOKENVER_DATABASE_URL: `sqlite:${sqliteBenchFile}` })
      : app;
    const cliArgs = options.dist ? [join(ROOT, "dist/cli.js"), "serve"] : tsxArgs("src/cli.ts", "serve");
    const cli = await start("sqlite-cli", cliArgs, { TOKENVER_DATABASE_URL: `sqlite:${sqliteCliFile}` });
    cases.push({
      id: "sqlite-notes",
      label: example ? "2a SQLite, example app GET /notes" : "2a SQLite, protected route",
      measures: `verify + revocation check (local cache over a prepared statement); ${example ? EXAMPLE : "bench/app-server.ts"}`,
      servers: [app],
      path: "/notes",
    });
    if (example) {
      cases.push({
        id: "sqlite-bench",
        label: "2c SQLite, bench app GET /notes",
        measures: "verify + revocation check; bench/app-server.ts: tokenver's server with the limit's route and body",
        servers: [benchApp],
        path: "/notes",
      });
    }
    cases.push({
      id: "sqlite-profile",
      label: "2b SQLite, GET /profile (CLI)",
      measures: "verify + revocation check + the user-row read /profile does by design",
      servers: [cli],
      path: "/profile",
    });

    const wanted = (prefix: string) => options.only === undefined || options.only.some((id) => id.startsWith(prefix));
    const pgProblem = wanted("pg") ? await reachablePostgres(options.pg) : "not selected (--only)";
    const redisProblem = pgProblem ?? (await reachableRedis(options.redis));
    if (pgProblem === undefined) {
      started = Date.now();
      const name = `tokenver_bench_${process.pid}`;
      await withAdmin(options.pg, (c) => c.query(`CREATE DATABASE ${name}`));
      cleanups.push(() => withAdmin(options.pg, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}));
      const url = new URL(options.pg);
      url.pathname = `/${name}`;
      const pgUrl = url.toString();
      await seedPostgres(pgUrl, seedSpec);
      log(`seeded PostgreSQL in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      const pgOnly = await start("pg", tsxArgs("bench/app-server.ts"), { TOKENVER_DATABASE_URL: pgUrl });
      cases.push({
        id: "pg-1",
        label: "3a PostgreSQL only, 1 node",
        measures: "verify + one PostgreSQL query per request",
        servers: [pgOnly],
        path: "/notes",
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
          const nodeA = await start("pg-redis-a", tsxArgs("bench/app-server.ts"), env);
          const nodeB = await start("pg-redis-b", tsxArgs("bench/app-server.ts"), env);
          cases.push({
            id: "pgredis-1",
            label: "3b PostgreSQL + Redis, 1 node",
            measures: "verify + node cache kept exact over Redis",
            servers: [nodeA],
            path: "/notes",
          });
          cases.push({
            id: "pgredis-2",
            label: "3c PostgreSQL + Redis, 2 nodes",
            measures: "as 3b, load split over two processes",
            servers: [nodeA, nodeB],
            path: "/notes",
          });
        } catch (error) {
          skipped.push({
            id: "pgredis",
            label: "3b/3c PostgreSQL + Redis",
            reason: `the server did not start: ${(error as Error).message}`,
          });
        }
      } else {
        skipped.push({ id: "pgredis", label: "3b/3c PostgreSQL + Redis", reason: redisProblem });
      }
    } else {
      skipped.push({ id: "pg", label: "3 PostgreSQL (+ Redis)", reason: pgProblem });
    }

    cases.push({
      id: "sqlite-notes-storm",
      label: `4 as 2a + ${options.stormRate} logins/s`,
      measures: "2a while another process logs seeded users in (argon2 on the thread pool)",
      servers: [app],
      path: "/notes",
      storm: { server: app, loginPath: appLogin },
    });

    if (options.only !== undefined) {
      const keep = new Set(["hello", "limit", ...options.only]);
      cases.splice(0, cases.length, ...cases.filter((c) => keep.has(c.id)));
    }

    // Every server must accept a benchmark token before anything is measured.
    const probeToken = mintTokens(sessions.slice(0, 1))[0]!;
    for (const c of cases) {
      for (const s of c.servers) {
        const response = await fetch(`${s.url}${c.path}`, { headers: { authorization: `Bearer ${probeToken}` } });
        if (response.status !== 200) throw new Error(`${c.label}: a seeded token got ${response.status} from ${s.name}`);
      }
    }

    // Warm-up: JIT, caches, connection pools; not counted.
    log("warming up");
    for (const c of cases) if (c.storm === undefined) await runCase(c, Math.min(2, options.duration), work);
    const untilTrusted = redisTrustedAt - Date.now();
    if (cases.some((c) => c.id.startsWith("pgredis")) && untilTrusted > 0) {
      log(`waiting ${Math.ceil(untilTrusted / 1000)}s until the Redis nodes trust Redis (one entry lifetime after start)`);
      await sleep(untilTrusted);
      // Until every node has read every session once: its cache fills from those reads, and the
      // rounds then measure the steady state, as SQLite's have from the first warm-up.
      for (const c of cases) {
        if (!c.id.startsWith("pgredis")) continue;
        let served = 0;
        for (let pass = 0; pass < 20 && served < 2 * options.tokens; pass++) served += (await runCase(c, 2, work)).load.requests;
      }
    }

    const rounds = new Map<string, Measured[]>(cases.map((c) => [c.id, []]));
    const storms = new Map<string, StormResult[]>(cases.map((c) => [c.id, []]));
    for (let round = 1; round <= options.rounds; round++) {
      const parts: string[] = [];
      for (const c of cases) {
        const { load, storm } = await runCase(c, options.duration, work);
        rounds.get(c.id)!.push(load);
        if (storm) storms.get(c.id)!.push(storm);
        parts.push(`${c.id} ${Math.round(load.rps)}`);
      }
      log(`round ${round}/${options.rounds}: ${parts.join(", ")}`);
    }

    const limitRps = median(rounds.get("limit")!.map((r) => r.rps));
    const limitCpus = rounds.get("limit")!.map((r) => r.cpuUsPerRequest);
    const limitCpu = limitCpus.every((x): x is number => x !== undefined) ? median(limitCpus) : undefined;
    const results = cases.map((c) => summarise(c, rounds.get(c.id)!, storms.get(c.id)!, limitRps, limitCpu));
    printTable(results, skipped);
    const notes = verdicts(results, { argon2Ms, stormRate: options.stormRate, cores: cpus().length });
    process.stdout.write(`\n${notes.join("\n")}\n`);
    process.stdout.write(
      "\n2a is the pure verify + revocation cost (the principal only); 2b adds the user-row read that\n" +
        "GET /profile does to return the user. Ratios are to case 1 on the same machine in the same run.\n",
    );

    if (options.out !== undefined) {
      const out = resolve(options.out);
      mkdirSync(out, { recursive: true });
      const report = {
        date: new Date().toISOString(),
        command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
        machine: {
          node: process.version,
          cpus: cpus().length,
          argon2VerifyMs: argon2Ms,
          loadAverageAtStart: load1,
          loadAverageAtEnd: loadavg()[0],
        },
        options: { ...options, pg: undefined, redis: undefined },
        connections: CONNECTIONS,
        results,
        skipped,
        verdicts: notes,
      };
      writeFileSync(join(out, "results.json"), `${JSON.stringify(report, null, 2)}\n`);
      writeFileSync(
        join(out, "chart.svg"),
        renderChart(
          results,
          `${options.users.toLocaleString("en-US")} users, ${CONNECTIONS} connections, medians of ${options.rounds} rounds`,
        ),
      );
      log(`wrote ${join(out, "results.json")} and ${join(out, "chart.svg")}`);
    }
  } finally {
    await stopAll();
  }
}

if (!existsSync(join(ROOT, "node_modules/autocannon"))) {
  process.stderr.write("bench: autocannon is missing: run npm install\n");
  process.exit(1);
}
await main().catch((error) => {
  process.stderr.write(`bench: failed: ${(error as Error).message}\n`);
  process.exit(1);
});
