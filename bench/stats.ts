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
  /** Its baseline's run right before each of its rounds (measure.ts); empty for a baseline. */
  pairs: Measured[];
  storms: StormResult[];
  rps: number;
  /** Server CPU time per request, µs (median); undefined without /proc. */
  cpuUsPerRequest: number | undefined;
  /** Baseline's CPU per request / this case's (median over the pairs): the throughput ratio on a dedicated core. */
  cpuRatio: number | undefined;
  p50: number;
  p99: number;
  errors: number;
  /** req/s over the baseline's req/s: the median over the rounds of each run over its pair's. */
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

/**
 * One result per case, in the cases' order. Each ratio is the median over the rounds of the case's
 * run over its pair's (the baseline's run right before it, measure.ts); without pairs, over the
 * baseline's own median.
 */
export function summariseAll(
  cases: Case[],
  rounds: Map<string, Measured[]>,
  storms: Map<string, StormResult[]>,
  pairs: Map<string, Measured[]> = new Map(),
): CaseResult[] {
  const rpsOf = (id: string) => median(rounds.get(id)?.map((r) => r.rps) ?? [0]);
  const helloRps = rpsOf("hello");
  return cases.map((c) => {
    const measured = rounds.get(c.id)!;
    const paired = pairs.get(c.id) ?? [];
    const rps = median(measured.map((r) => r.rps));
    const cpuUsPerRequest = medianCpu(measured);
    const { ratio, cpuRatio } =
      paired.length === measured.length && paired.length > 0
        ? pairedRatios(measured, paired)
        : unpairedRatios(rps, cpuUsPerRequest, rpsOf(c.baseline), rounds.has(c.baseline) ? medianCpu(rounds.get(c.baseline)!) : undefined);
    return {
      id: c.id,
      label: c.label,
      measures: c.measures,
      baseline: c.baseline,
      rounds: measured,
      pairs: paired,
      storms: storms.get(c.id)!,
      rps,
      p50: median(measured.map((r) => r.p50)),
      p99: median(measured.map((r) => r.p99)),
      errors: measured.reduce((n, r) => n + r.errors + r.non2xx, 0),
      ratio,
      ofHello: helloRps > 0 ? rps / helloRps : 0,
      cpuUsPerRequest,
      cpuRatio,
      eventLoop: medianEventLoop(measured),
    };
  });
}

function pairedRatios(measured: Measured[], paired: Measured[]): { ratio: number; cpuRatio: number | undefined } {
  const ratio = median(measured.map((r, i) => (paired[i]!.rps > 0 ? r.rps / paired[i]!.rps : 0)));
  const cpu = measured.map((r, i) => {
    const [own, base] = [r.cpuUsPerRequest, paired[i]!.cpuUsPerRequest];
    return own === undefined || base === undefined || own <= 0 ? undefined : base / own;
  });
  return { ratio, cpuRatio: cpu.every((x): x is number => x !== undefined) ? median(cpu) : undefined };
}

function unpairedRatios(
  rps: number,
  cpu: number | undefined,
  baseRps: number,
  baseCpu: number | undefined,
): { ratio: number; cpuRatio: number | undefined } {
  return {
    ratio: baseRps > 0 ? rps / baseRps : 0,
    cpuRatio: cpu !== undefined && baseCpu !== undefined && cpu > 0 ? baseCpu / cpu : undefined,
  };
}
