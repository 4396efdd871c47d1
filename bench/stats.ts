/** From rounds to results: medians per case, and the ratios to the limit (case 1) in req/s and by CPU. */
import type { Case } from "./cases.js";
import type { Measured, StormResult } from "./measure.js";

export interface CaseResult {
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

export function median(values: number[]): number {
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

/** One result per case, in the cases' order; the ratios are to the `limit` case of the same rounds. */
export function summariseAll(cases: Case[], rounds: Map<string, Measured[]>, storms: Map<string, StormResult[]>): CaseResult[] {
  const limitRps = median(rounds.get("limit")!.map((r) => r.rps));
  const limitCpus = rounds.get("limit")!.map((r) => r.cpuUsPerRequest);
  const limitCpu = limitCpus.every((x): x is number => x !== undefined) ? median(limitCpus) : undefined;
  return cases.map((c) => summarise(c, rounds.get(c.id)!, storms.get(c.id)!, limitRps, limitCpu));
}
