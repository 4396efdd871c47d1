/**
 * The bench-only public route `GET /bench/event-loop[?reset]` of a server started with
 * TOKENVER_BENCH_ELD=1: the main thread's event-loop delay (perf_hooks.monitorEventLoopDelay,
 * 1 ms sampling) since the last reset, in ms, and the CPU time the process (all its threads,
 * argon2's included) and its main thread have used, in ms. Off by default: the monitor's timer
 * costs a little CPU, and the baselines run without it.
 */
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { FastifyInstance, RouteShorthandOptions } from "fastify";

export const EVENT_LOOP_PATH = "/bench/event-loop";

/** The monitor's sampling period, ms. */
const RESOLUTION_MS = 1;

export function addEventLoopRoute(app: FastifyInstance, routeOptions: RouteShorthandOptions = {}): void {
  if (process.env.TOKENVER_BENCH_ELD !== "1") return;
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  app.get(EVENT_LOOP_PATH, routeOptions, async (request) => {
    // The histogram records the time between two of its timer's callbacks, so an idle loop reads
    // the resolution itself (1 ms), not 0: the delay is what exceeds it (as @fastify/under-pressure
    // reads it).
    const ms = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
    const usage = process.resourceUsage();
    const answer = {
      p50: ms(delay.percentile(50)),
      p99: ms(delay.percentile(99)),
      max: ms(delay.max),
      samples: delay.count,
      processCpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
      mainThreadCpuMs: threadCpuMs(),
    };
    if (Object.hasOwn(request.query as object, "reset")) delay.reset();
    return answer;
  });
}

/** CPU time of the main thread alone (Linux: /proc/thread-self/stat), ms; undefined elsewhere. */
function threadCpuMs(): number | undefined {
  try {
    const stat = readFileSync("/proc/thread-self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}
