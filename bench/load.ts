/**
 * The load generator, run as its own process so it never shares an event loop with a server.
 * Drives one or more targets at once with autocannon (programmatic API) and prints one JSON line:
 * total req/s, p50/p99 latency in ms (2xx responses, measured to the microsecond), errors.
 *
 * Usage: node --import tsx bench/load.ts <spec.json>, or forked with IPC: one spec per message.
 * spec: { targets: [{ url, connections }], path, durationSeconds, tokensFile }
 * Each request carries the next token of the file (one seeded session each), so the server's
 * caches see many sessions rather than one.
 */
import { readFileSync } from "node:fs";
import autocannon from "autocannon";

export interface LoadSpec {
  targets: { url: string; connections: number }[];
  path: string;
  durationSeconds: number;
  tokensFile: string;
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

async function drive(spec: LoadSpec, target: { url: string; connections: number }, tokens: string[], histogram: Histogram) {
  const requests = tokens.map((token) => ({ method: "GET" as const, path: spec.path, headers: { authorization: `Bearer ${token}` } }));
  const instance = autocannon({ url: target.url, connections: target.connections, duration: spec.durationSeconds, requests });
  instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode >= 200 && statusCode < 300) histogram.record(responseTime);
  });
  return instance as PromiseLike<autocannon.Result>;
}

const tokenFiles = new Map<string, string[]>();

async function measure(spec: LoadSpec): Promise<LoadResult> {
  let tokens = tokenFiles.get(spec.tokensFile);
  if (tokens === undefined) {
    tokens = JSON.parse(readFileSync(spec.tokensFile, "utf8")) as string[];
    tokenFiles.set(spec.tokensFile, tokens);
  }
  const histogram = new Histogram();
  // Each target gets its own slice order, so two nodes do not see the same session at the same time.
  const results = await Promise.all(
    spec.targets.map((t, i) =>
      drive(spec, t, i === 0 ? tokens : [...tokens.slice(tokens.length >> 1), ...tokens.slice(0, tokens.length >> 1)], histogram),
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

if (process.send !== undefined) {
  // Forked by bench/run.ts: one long-lived process answers every measurement (no start-up per round).
  process.on("message", (spec: LoadSpec) => {
    measure(spec).then(
      (result) => process.send!({ result }),
      (error: Error) => process.send!({ error: error.message }),
    );
  });
} else {
  const spec = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as LoadSpec;
  process.stdout.write(`${JSON.stringify(await measure(spec))}\n`);
}
