/** From rounds to results: medians per case, and the ratios to its baseline (req/s and CPU per request). */
import type { Case } from "./cases.js";
import type { EventLoop, Measured, StormResult } from "./measure.js";

export interface CaseResult {
  id: string;
  label: string;
  measures: string;
  /** The case this one is compared with. */
  baseline: string;
  rounds: Measured[];
  storms: StormResult[];
  rps: number;
  /** Server CPU time per request, µs (median); undefined without /proc. */
  cpuUsPerRequest: number | undefined;
  /** Baseline's CPU per request / this case's: the throughput ratio on a dedicated core. */
  cpuRatio: number | undefined;
  p50: number;
  p99: number;
  errors: number;
  /** req/s over the baseline's req/s. */
  ratio: number;
  /** req/s over the static route's (hello): near 1 means the load generator and the framework set the pace. */
  ofHello: number;
  /** Medians over the rounds of the server's own event-loop delay, when it reports it. */
  eventLoop: EventLoop | undefined;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianCpu(rounds: Measured[]): number | undefined {
  const cpus = rounds.map((r) => r.cpuUsPerRequest);
  return cpus.every((x): x is number => x !== undefined) ? median(cpus) : undefined;
}

function medianEventLoop(rounds: Measured[]): EventLoop | undefined {
  const loops = rounds.map((r) => r.eventLoop).filter((e): e is EventLoop => e !== undefined);
  if (loops.length === 0) return undefined;
  const main = loops.map((e) => e.mainThreadCpuMs);
  return {
    p50: median(loops.map((e) => e.p50)),
    p99: median(loops.map((e) => e.p99)),
    max: median(loops.map((e) => e.max)),
    samples: median(loops.map((e) => e.samples)),
    processCpuMs: median(loops.map((e) => e.processCpuMs)),
    mainThreadCpuMs: main.every((x): x is number => x !== undefined) ? median(main) : undefined,
  };
}

/** One result per case, in the cases' order; each ratio is to the case's baseline in the same rounds. */
export function summariseAll(cases: Case[], rounds: Map<string, Measured[]>, storms: Map<string, StormResult[]>): CaseResult[] {
  const rpsOf = (id: string) => median(rounds.get(id)?.map((r) => r.rps) ?? [0]);
  const helloRps = rpsOf("hello");
  return cases.map((c) => {
    const measured = rounds.get(c.id)!;
    const rps = median(measured.map((r) => r.rps));
    const cpuUsPerRequest = medianCpu(measured);
    const baseRps = rpsOf(c.baseline);
    const baseCpu = rounds.has(c.baseline) ? medianCpu(rounds.get(c.baseline)!) : undefined;
    return {
      id: c.id,
      label: c.label,
      measures: c.measures,
      baseline: c.baseline,
      rounds: measured,
      storms: storms.get(c.id)!,
      rps,
      p50: median(measured.map((r) => r.p50)),
      p99: median(measured.map((r) => r.p99)),
      errors: measured.reduce((n, r) => n + r.errors + r.non2xx, 0),
      ratio: baseRps > 0 ? rps / baseRps : 0,
      ofHello: helloRps > 0 ? rps / helloRps : 0,
      cpuUsPerRequest,
      cpuRatio: cpuUsPerRequest !== undefined && baseCpu !== undefined && cpuUsPerRequest > 0 ? baseCpu / cpuUsPerRequest : undefined,
      eventLoop: medianEventLoop(measured),
    };
  });
}
