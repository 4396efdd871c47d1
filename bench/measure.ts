/**
 * Measuring: one case for some seconds (the load, the login storm beside it, the servers' CPU
 * time, the event-loop delay of servers that report it), the probe that every server accepts a
 * benchmark token, the uncounted warm-up, the rounds in turns (A B C A B C ...) so drift cancels,
 * and what one argon2id verification costs alone.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { verifyPassword } from "../src/core/passwords/hashing.js";
import type { Case } from "./cases.js";
import { CONNECTIONS, PASSWORD } from "./constants.js";
import type { LoadEngine, LoadResult, LoadSpec } from "./load.js";
import type { Options } from "./options.js";
import { runJson, serversCpuMs, sleep, tsxArgs, type LoadGenerator, type Server } from "./processes.js";
import { median } from "./stats.js";

/** What bench/storm.ts prints. */
export interface StormResult {
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

/** What GET /bench/event-loop answers (bench/app-server.ts), over one round. */
export interface EventLoop {
  p50: number;
  p99: number;
  max: number;
  samples: number;
  /** CPU the whole process used in the round (every thread), ms. */
  processCpuMs: number;
  /** CPU the main thread used in the round, ms (undefined off Linux). */
  mainThreadCpuMs: number | undefined;
}

export type Measured = LoadResult & { cpuUsPerRequest: number | undefined; seconds: number; eventLoop?: EventLoop };

export interface Work {
  dir: string;
  tokensFile: string;
  tokensText: string;
  /** The tokens of tokensFile, read once. */
  tokens: string[];
  emailsFile: string;
  stormRate: number;
  engine: LoadEngine;
  load: LoadGenerator;
}

export async function runCase(c: Case, seconds: number, work: Work): Promise<{ load: Measured; storm?: StormResult }> {
  const before = c.eventLoop ? await readEventLoop(c.servers[0]!, true) : undefined;
  const cpuBefore = serversCpuMs(c.servers);
  const { load, storm } = await driveCase(c, seconds, work);
  const cpuAfter = serversCpuMs(c.servers);
  const after = c.eventLoop ? await readEventLoop(c.servers[0]!, false) : undefined;
  const cpuUsPerRequest =
    cpuBefore === undefined || cpuAfter === undefined || load.requests === 0 ? undefined : ((cpuAfter - cpuBefore) * 1000) / load.requests;
  const eventLoop =
    before && after
      ? {
          ...after,
          processCpuMs: after.processCpuMs - before.processCpuMs,
          mainThreadCpuMs:
            after.mainThreadCpuMs === undefined || before.mainThreadCpuMs === undefined
              ? undefined
              : after.mainThreadCpuMs - before.mainThreadCpuMs,
        }
      : undefined;
  return { load: { ...load, cpuUsPerRequest, seconds, ...(eventLoop ? { eventLoop } : {}) }, ...(storm === undefined ? {} : { storm }) };
}

async function readEventLoop(server: Server, reset: boolean): Promise<EventLoop> {
  const response = await fetch(`${server.url}/bench/event-loop${reset ? "?reset" : ""}`);
  if (response.status !== 200) throw new Error(`${server.name}: GET /bench/event-loop answered ${response.status}`);
  return (await response.json()) as EventLoop;
}

async function driveCase(c: Case, seconds: number, work: Work): Promise<{ load: LoadResult; storm?: StormResult }> {
  const connections = Math.max(1, Math.floor(CONNECTIONS / c.servers.length));
  const spec: LoadSpec = {
    engine: work.engine,
    targets: c.servers.map((s) => ({ url: s.url, connections })),
    path: c.path,
    durationSeconds: seconds,
    tokensFile: c.tokens?.json ?? work.tokensFile,
    tokensText: c.tokens?.text ?? work.tokensText,
    ...(c.rate === undefined ? {} : { ratePerSecond: c.rate }),
  };
  if (c.hashLoad) {
    // As a storm below: it starts first and outlasts the load. Its result only says it ran.
    const hashing = runJson<{ ok: number }>(tsxArgs("bench/hash-load.ts", String(work.stormRate), String(seconds + 2)));
    await sleep(700);
    const [load] = await Promise.all([work.load.measure(spec), hashing]);
    return { load };
  }
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

/** Every server must accept a benchmark token before anything is measured. */
export async function probeCases(cases: Case[], token: string): Promise<void> {
  for (const c of cases) {
    for (const s of c.servers) {
      // A case with its own tokens (its own signing key) is probed with the first of them.
      const own =
        c.tokens !== undefined && c.tokens.json !== "-" ? (JSON.parse(readFileSync(c.tokens.json, "utf8")) as string[])[0]! : token;
      const headers: Record<string, string> = c.tokens?.text === "-" ? {} : { authorization: `Bearer ${own}` };
      const response = await fetch(`${s.url}${c.path}`, { headers });
      if (response.status !== 200) {
        const problem = (await response.json().catch(() => ({}))) as { code?: string; detail?: string };
        throw new Error(`${c.label}: a seeded token got ${response.status} ${problem.code ?? ""} from ${s.name}: ${problem.detail ?? ""}`);
      }
    }
  }
}

/**
 * Warm-up: JIT, caches, connection pools; not counted. The storm cases too: a server's first logins
 * start its hashing thread and compile the sign-in path, which would land in round 1's delay.
 */
export async function warmUp(
  cases: Case[],
  options: Options,
  work: Work,
  redisTrustedAt: number,
  log: (message: string) => void,
): Promise<void> {
  log("warming up");
  for (const c of cases) await runCase(c, Math.min(2, options.duration), work);
  const untilTrusted = redisTrustedAt - Date.now();
  if (cases.some(isRedisCase) && untilTrusted > 0) {
    log(`waiting ${Math.ceil(untilTrusted / 1000)}s until the Redis nodes trust Redis (one entry lifetime after start)`);
    await sleep(untilTrusted);
    await refillRedisNodes(cases, work, log);
    for (const c of cases) if (isRedisCase(c)) await runCase(c, Math.min(2, options.duration), work);
  }
}

const isRedisCase = (c: Case): boolean => c.id.startsWith("pgredis");

/**
 * Has every Redis node read every benchmark session and its user once (each token sent once to
 * `GET /profile`, CONNECTIONS in flight), uncounted. A node keeps an entry for one entry lifetime
 * (REDIS_ENTRY_TTL) and a round comes back to a session later than that when every case runs, so
 * without this each round would measure a node that forgot every session since the last one: each
 * token's first request a read of Redis, and of PostgreSQL behind it once Redis's copy expired too.
 * So the rounds measure a node whose sessions come back within the entry lifetime, as SQLite's
 * cases measure a warm cache.
 */
async function refillRedisNodes(cases: Case[], work: Work, log: (message: string) => void): Promise<void> {
  const { tokens } = work;
  for (const server of new Set(cases.filter(isRedisCase).flatMap((c) => c.servers))) {
    const started = performance.now();
    let next = 0;
    const send = async (): Promise<void> => {
      while (next < tokens.length) {
        const response = await fetch(`${server.url}/profile`, { headers: { authorization: `Bearer ${tokens[next++]!}` } });
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`refilling ${server.name}: GET /profile answered ${response.status}`);
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, send));
    const seconds = (performance.now() - started) / 1000;
    log(
      `refilled ${server.name}: ${tokens.length} tokens in ${seconds.toFixed(1)}s (${Math.round(tokens.length / seconds)}/s, one client)`,
    );
  }
}

/**
 * The counted rounds: every case once per round, in the same order, each round logged. Each case
 * compared with another runs right after a run of that baseline (its pair: the run before it when
 * that was the baseline, a run of its own otherwise, uncounted in the baseline's row), so a ratio
 * is taken between two runs seconds apart: the machine's speed drifts over a round of minutes.
 */
export async function measureRounds(
  cases: Case[],
  options: Options,
  work: Work,
  log: (message: string) => void,
): Promise<{ rounds: Map<string, Measured[]>; pairs: Map<string, Measured[]>; storms: Map<string, StormResult[]> }> {
  const byId = new Map(cases.map((c) => [c.id, c]));
  const rounds = new Map<string, Measured[]>(cases.map((c) => [c.id, []]));
  const pairs = new Map<string, Measured[]>(cases.map((c) => [c.id, []]));
  const storms = new Map<string, StormResult[]>(cases.map((c) => [c.id, []]));
  for (let round = 1; round <= options.rounds; round++) {
    const parts: string[] = [];
    // Right before the round's first Redis case, so every Redis case of the round runs within an entry lifetime of it.
    let refilled = false;
    let previous: { id: string; load: Measured } | undefined;
    for (const c of cases) {
      if (isRedisCase(c) && !refilled) {
        await refillRedisNodes(cases, work, log);
        refilled = true;
      }
      const baseline = byId.get(c.baseline);
      if (baseline !== undefined && baseline !== c) {
        const pair = previous?.id === baseline.id ? previous.load : (await runCase(baseline, options.duration, work)).load;
        pairs.get(c.id)!.push(pair);
      }
      const { load, storm } = await runCase(c, options.duration, work);
      rounds.get(c.id)!.push(load);
      if (storm) storms.get(c.id)!.push(storm);
      parts.push(`${c.id} ${Math.round(load.rps)}`);
      previous = { id: c.id, load };
    }
    log(`round ${round}/${options.rounds}: ${parts.join(", ")}`);
  }
  return { rounds, pairs, storms };
}

export const ARGON2_SAMPLES = 7;

/** What one login's argon2id verification costs on this machine, measured before any server runs. */
export async function timeArgon2(passwordHash: string): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < ARGON2_SAMPLES; i++) {
    const started = performance.now();
    if (!(await verifyPassword(passwordHash, PASSWORD))) throw new Error("argon2 verification failed");
    samples.push(performance.now() - started);
  }
  return median(samples);
}

/** How many argon2 runs the server lets run at once: one core is left to the event loop (src/core/passwords/hashing.ts). */
export const ARGON2_THREADS = Math.max(1, availableParallelism() - 1);

/** Logins per second the server's argon2 threads can hash (one verification each). */
export function hashCapacity(argon2Ms: number): number {
  return (ARGON2_THREADS * 1000) / argon2Ms;
}

/**
 * The storm's default rate: half of what the argon2 threads can hash (at most 50/s), so logins
 * run at a rate the cores can hash and never queue without bound.
 */
export function stormRateFor(argon2Ms: number): number {
  return Math.max(1, Math.min(50, Math.floor(hashCapacity(argon2Ms) / 2)));
}
