/**
 * The load generator, run as its own process so it never shares an event loop with a server.
 * Drives one or more targets at once and prints (or sends) one result: total req/s, p50/p99
 * latency in ms, errors. Two engines:
 *
 * - `wrk` (when it is on PATH; `apt-get install wrk`): one thread, C connections, a Lua script
 *   (bench/wrk/tokens.lua) that sends the next token of the list with every request. Written in C,
 *   it needs a fraction of the CPU per request that autocannon does, so on two cores it leaves
 *   the server room: the figures measure the server, not the generator.
 * - `autocannon` (programmatic API): each connection walks the token list from its start.
 *
 * Either way every token arrives about ten times in a row (a page's parallel calls with one fresh
 * token), and a round reaches thousands of distinct sessions.
 *
 * Usage: node --import tsx bench/load.ts <spec.json>, or forked with IPC: one spec per message.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import autocannon from "autocannon";
import { ROOT } from "./constants.js";

export type LoadEngine = "wrk" | "autocannon";

export interface LoadSpec {
  engine: LoadEngine;
  targets: { url: string; connections: number }[];
  path: string;
  durationSeconds: number;
  /** JSON array of tokens (autocannon). */
  tokensFile: string;
  /** The same tokens, one per line (wrk); "-" sends no Authorization header. */
  tokensText: string;
  /** How each line is sent: `Authorization: Bearer <line>` (default) or `Cookie: <line>` (the peer). */
  header?: "authorization" | "cookie";
  /**
   * A fixed pace (requests a second over all targets) instead of as fast as the server answers:
   * the event-loop delay of a server that is not saturated measures its design, not CPU queueing.
   */
  ratePerSecond?: number;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** Latency histogram with 10 µs buckets up to 1 s: no allocation per response. */
class Histogram {
  readonly #buckets = new Uint32Array(100_001);
  count = 0;
  record(ms: number): void {
    const bucket = Math.min(100_000, Math.round(ms * 100));
    this.#buckets[bucket]!++;
    this.count++;
  }
  percentile(p: number): number {
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.#buckets.length; i++) {
      seen += this.#buckets[i]!;
      if (seen >= rank && rank > 0) return i / 100;
    }
    return 0;
  }
}

async function driveAutocannon(spec: LoadSpec, target: { url: string; connections: number }, tokens: string[], histogram: Histogram) {
  const headers = (token: string): Record<string, string> =>
    token === "" ? {} : spec.header === "cookie" ? { cookie: token } : { authorization: `Bearer ${token}` };
  const requests = tokens.map((token) => ({ method: "GET" as const, path: spec.path, headers: headers(token) }));
  const instance = autocannon({
    url: target.url,
    connections: target.connections,
    duration: spec.durationSeconds,
    requests,
    ...(spec.ratePerSecond === undefined ? {} : { overallRate: spec.ratePerSecond / spec.targets.length }),
  });
  instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode >= 200 && statusCode < 300) histogram.record(responseTime);
  });
  return instance as PromiseLike<autocannon.Result>;
}

const tokenFiles = new Map<string, string[]>();

async function measureAutocannon(spec: LoadSpec): Promise<LoadResult> {
  let tokens = tokenFiles.get(spec.tokensFile);
  if (tokens === undefined) {
    tokens = spec.tokensFile === "-" ? [""] : (JSON.parse(readFileSync(spec.tokensFile, "utf8")) as string[]);
    tokenFiles.set(spec.tokensFile, tokens);
  }
  const histogram = new Histogram();
  // Each target gets its own slice order, so two nodes do not see the same session at the same time.
  const results = await Promise.all(
    spec.targets.map((t, i) =>
      driveAutocannon(spec, t, i === 0 ? tokens : [...tokens.slice(tokens.length >> 1), ...tokens.slice(0, tokens.length >> 1)], histogram),
    ),
  );
  const requests = results.reduce((n, r) => n + r.requests.total, 0);
  const seconds = Math.max(...results.map((r) => r.duration));
  return {
    requests,
    rps: requests / seconds,
    p50: histogram.percentile(50),
    p99: histogram.percentile(99),
    errors: results.reduce((n, r) => n + r.errors + r.timeouts, 0),
    non2xx: results.reduce((n, r) => n + r.non2xx, 0),
  };
}

/** What bench/wrk/tokens.lua prints. */
interface WrkResult {
  requests: number;
  duration_us: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50_us: number;
  p99_us: number;
}

function runWrk(spec: LoadSpec, target: { url: string; connections: number }, start: number): Promise<WrkResult> {
  // Paced: each connection pauses between requests (whole ms: wrk's timer resolution).
  const pauseMs =
    spec.ratePerSecond === undefined
      ? undefined
      : Math.max(1, Math.round((target.connections * spec.targets.length * 1000) / spec.ratePerSecond));
  const args = [
    "-t1",
    `-c${target.connections}`,
    `-d${spec.durationSeconds}s`,
    "--timeout",
    "10s",
    "-s",
    join(ROOT, pauseMs === undefined ? "bench/wrk/tokens.lua" : "bench/wrk/paced.lua"),
    target.url,
    "--",
    spec.tokensText,
    spec.path,
    "10",
    String(start),
    spec.header === "cookie" ? "cookie" : "authorization",
    ...(pauseMs === undefined ? [] : [String(pauseMs)]),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = out
        .trim()
        .split("\n")
        .find((l) => l.startsWith("{"));
      if (code === 0 && line !== undefined) resolve(JSON.parse(line) as WrkResult);
      else reject(new Error(`wrk exited ${code}: ${(err || out).trim().split("\n").slice(-2).join(" | ")}`));
    });
  });
}

async function measureWrk(spec: LoadSpec): Promise<LoadResult> {
  const lines = spec.tokensText === "-" ? 1 : readFileSync(spec.tokensText, "utf8").split("\n").filter(Boolean).length;
  // The second target starts half-way down the list (as with autocannon).
  const results = await Promise.all(spec.targets.map((t, i) => runWrk(spec, t, i === 0 ? 0 : lines >> 1)));
  const requests = results.reduce((n, r) => n + r.requests, 0);
  const seconds = Math.max(...results.map((r) => r.duration_us)) / 1e6;
  return {
    requests,
    rps: requests / seconds,
    // Several targets: the median target's p50 and the worst p99 (each wrk keeps its own histogram).
    p50: [...results.map((r) => r.p50_us)].sort((a, b) => a - b)[results.length >> 1]! / 1000,
    p99: Math.max(...results.map((r) => r.p99_us)) / 1000,
    errors: results.reduce((n, r) => n + r.connect + r.read + r.write + r.timeout, 0),
    // wrk counts responses with a status above 399.
    non2xx: results.reduce((n, r) => n + r.status, 0),
  };
}

function measure(spec: LoadSpec): Promise<LoadResult> {
  return spec.engine === "wrk" ? measureWrk(spec) : measureAutocannon(spec);
}

if (process.send !== undefined) {
  // Forked by bench/run.ts: one long-lived process answers every measurement (no start-up per round).
  process.on("message", (spec: LoadSpec) => {
    measure(spec).then(
      (result) => process.send!({ result }),
      (error: Error) => process.send!({ error: error.message }),
    );
  });
} else if (process.argv[2] !== undefined) {
  const spec = JSON.parse(readFileSync(process.argv[2], "utf8")) as LoadSpec;
  process.stdout.write(`${JSON.stringify(await measure(spec))}\n`);
}
