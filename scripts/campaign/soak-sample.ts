/**
 * What the soak run samples and how it judges it: a process's resident memory and open file
 * descriptors from /proc, the V8 heap from the Prometheus text of a server's `/metrics`, and the
 * verdict on a series of samples against the bounds below (docs/campaign.md, "The soak run").
 * Nothing here starts a server; test/campaign/soak.test.ts runs it against a small process.
 */
import { readdirSync, readFileSync } from "node:fs";

export interface ProcessSample {
  /** Seconds since the soak started. */
  t: number;
  /** Resident set size, bytes (VmRSS); null when the process could not be read. */
  rss: number | null;
  /** Open file descriptors (entries of /proc/<pid>/fd). */
  fds: number | null;
  /** V8 heap in use, bytes (`nodejs_heap_size_used_bytes`), when the server's metrics answered. */
  heap: number | null;
}

/** VmRSS and the fd count of a live process; nulls if it is gone (or not readable). */
export function readProc(pid: number): { rss: number | null; fds: number | null } {
  let rss: number | null = null;
  let fds: number | null = null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
    if (kb !== undefined) rss = Number(kb) * 1024;
  } catch {
    // Gone.
  }
  try {
    fds = readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    // Gone.
  }
  return { rss, fds };
}

/** A metric's value in the Prometheus text format (the first series of that name). */
export function metricValue(text: string, name: string): number | null {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([0-9.eE+-]+)\\s*$`, "m").exec(text);
  return match === null ? null : Number(match[1]);
}

/** The heap in use from `http://127.0.0.1:<port>/metrics`, or null within `timeoutMs`. */
export async function readHeap(port: number, timeoutMs = 3_000): Promise<number | null> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    if (response.status !== 200) return null;
    return metricValue(await response.text(), "nodejs_heap_size_used_bytes");
  } catch {
    return null;
  }
}

/** The bounds of the verdict, once warm (docs/campaign.md says why these). */
export const BOUNDS = {
  /** Final RSS at most this factor of the warm RSS. */
  rssGrowth: 1.2,
  /** Final heap in use at most this factor of the warm heap. */
  heapGrowth: 1.25,
  /** Final open fds at most this many above the warm count. */
  fdsGrowth: 10,
} as const;

export interface Figure {
  /** Median of the samples in the minute after the warm-up. */
  warm: number | null;
  /** Median of the samples of the last minute. */
  final: number | null;
  /** Largest sample after the warm-up, and of the whole run. */
  maxAfterWarm: number | null;
  max: number | null;
  /** Least-squares slope after the warm-up, per 10 minutes. */
  slopePer10Min: number | null;
}

export interface Judgement {
  rss: Figure;
  heap: Figure;
  fds: Figure;
  /** Each bound, and whether it held (null: no data). */
  checks: { rss: boolean | null; heap: boolean | null; fds: boolean | null };
  ok: boolean;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function slope(points: [number, number][]): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? null : (points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / den) * 600;
}

export function figure(samples: readonly ProcessSample[], key: "rss" | "heap" | "fds", warmupS: number): Figure {
  const points = samples.filter((s) => s[key] !== null).map((s) => [s.t, s[key]!] as [number, number]);
  const after = points.filter(([t]) => t >= warmupS);
  const end = points.length === 0 ? 0 : points[points.length - 1]![0];
  return {
    warm: median(after.filter(([t]) => t < warmupS + 60).map(([, v]) => v)),
    final: median(points.filter(([t]) => t > end - 60 && t >= warmupS).map(([, v]) => v)),
    maxAfterWarm: after.length === 0 ? null : Math.max(...after.map(([, v]) => v)),
    max: points.length === 0 ? null : Math.max(...points.map(([, v]) => v)),
    slopePer10Min: slope(after),
  };
}

/** Warm against final, per the bounds. A process restarted (a new pid) is judged on its last life only by the caller. */
export function judge(samples: readonly ProcessSample[], warmupS: number): Judgement {
  const rss = figure(samples, "rss", warmupS);
  const heap = figure(samples, "heap", warmupS);
  const fds = figure(samples, "fds", warmupS);
  const ratio = (f: Figure, bound: number) => (f.warm === null || f.final === null ? null : f.final <= f.warm * bound);
  const checks = {
    rss: ratio(rss, BOUNDS.rssGrowth),
    heap: ratio(heap, BOUNDS.heapGrowth),
    fds: fds.warm === null || fds.final === null ? null : fds.final <= fds.warm + BOUNDS.fdsGrowth,
  };
  // No data is no verdict: RSS and fds must be there (the heap only where metrics answered).
  const ok = checks.rss === true && checks.fds === true && checks.heap !== false;
  return { rss, heap, fds, checks, ok };
}
