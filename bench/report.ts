/**
 * What a run reports: the table of medians, the verdicts against the targets of docs/api.md
 * section 11, the write paths, memory and the peer, and with --out the results.json and
 * chart.svg of the run.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import type { Skipped } from "./cases.js";
import { renderChart } from "./chart.js";
import { CONNECTIONS } from "./constants.js";
import type { Options } from "./options.js";
import { median, type CaseResult } from "./stats.js";

/** A case at this share of the static route's req/s is bound by the load generator and the framework, not by its own work. */
export const LOAD_BOUND = 0.8;

/** Cases without tokenver in them: ceilings and their variants, no target of their own. */
/** Cases without tokenver: no target of their own. */
const REFERENCES = new Set([
  "hello",
  "limit",
  "limit-cache",
  "limit-tokenver",
  "prepared-read",
  "prepared-read-tokenver",
  "limit-paced-hashing",
]);

/** Write-path throughput (bench/flows.ts) with the server's CPU per operation. */
export interface FlowResult {
  kind: string;
  ok: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  others: Record<string, number>;
  cpuMsPerOp: number | undefined;
}

/** What bench/memory.ts prints. */
export interface MemoryResult {
  sessions: number;
  revocationCacheBytes: number;
  idStringBytes: number;
  revocationCacheBytesPerSession: number;
  verifiedTokens: number;
  verifiedTokenCacheBytes: number;
  verifiedTokenBytesPerToken: number;
}

export interface Machine {
  argon2Ms: number;
  stormRate: number;
  cores: number;
  hashThreads: number;
  load: string;
}

export function printTable(results: CaseResult[], skipped: Skipped[]): void {
  const rows = [
    ["case", "vs", "req/s", "p50 ms", "p99 ms", "errors", "ratio", "CPU µs/req", "ratio by CPU", "of hello"],
    ...results.map((r) => [
      r.label,
      r.baseline === r.id ? "-" : r.baseline,
      Math.round(r.rps).toLocaleString("en-US"),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      String(r.errors),
      r.baseline === r.id ? "-" : r.ratio.toFixed(2),
      r.cpuUsPerRequest === undefined ? "-" : r.cpuUsPerRequest.toFixed(1),
      r.cpuRatio === undefined || r.baseline === r.id ? "-" : r.cpuRatio.toFixed(2),
      r.id === "hello" ? "1.00" : `${r.ofHello.toFixed(2)}${r.ofHello >= LOAD_BOUND ? " LG" : ""}`,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => (i <= 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  process.stdout.write(`\n${line(rows[0]!)}\n${widths.map((w) => "-".repeat(w)).join("  ")}\n`);
  for (const row of rows.slice(1)) process.stdout.write(`${line(row)}\n`);
  for (const s of skipped) process.stdout.write(`${s.label.padEnd(widths[0]!)}  skipped: ${s.reason}\n`);
}

export function verdicts(results: CaseResult[], machine: Machine): string[] {
  const by = new Map(results.map((r) => [r.id, r]));
  const lines: string[] = [];
  const hello = by.get("hello");
  if (hello && by.get("limit") && hello.rps < by.get("limit")!.rps) {
    lines.push(
      `NOTE  the static route (hello) was slower than the limit: other work on these cores set the pace, not the servers; ` +
        "no load-generator verdict, and req/s ratios are noise: read the CPU ratios",
    );
  } else if (hello) {
    const bound = results.filter((r) => r.id !== "hello" && r.ofHello >= LOAD_BOUND).map((r) => r.id);
    lines.push(
      `NOTE  load generator: ${machine.load}; its ceiling here, a static route (hello): ${Math.round(hello.rps).toLocaleString("en-US")} req/s. ` +
        (bound.length === 0
          ? `No case is within ${Math.round(100 * (1 - LOAD_BOUND))}% of it.`
          : `Within ${Math.round(100 * (1 - LOAD_BOUND))}% of it, so load-generator-bound (LG; read their CPU ratios): ${bound.join(", ")}.`),
    );
  }
  const limit = by.get("limit");
  const limitCache = by.get("limit-cache");
  if (limit && limitCache) {
    lines.push(
      `NOTE  fast-jwt's own cache: ${limitCache.ratio.toFixed(2)}x the limit in req/s` +
        (limitCache.cpuRatio === undefined ? "" : `, ${limitCache.cpuRatio.toFixed(2)}x by CPU`) +
        (limitCache.ratio > 1.02
          ? " (faster: the ratios to it would be lower by that factor)"
          : " (not faster: the limit without it stands)"),
    );
  }
  // The stricter baselines: the same work with tokenver's own verifier (its verified-token cache).
  for (const [strict, cases] of [
    ["limit-tokenver", ["sqlite-notes", "sqlite-bench", "pgredis-1"]],
    ["prepared-read-tokenver", ["sqlite-profile", "pgredis-profile"]],
  ] as const) {
    const s = by.get(strict);
    if (!s) continue;
    const against = cases
      .map((id) => by.get(id))
      .filter((r): r is CaseResult => r !== undefined)
      .map(
        (r) =>
          `${r.id} ${(r.ratio / s.ratio).toFixed(2)}` +
          (r.cpuRatio && s.cpuRatio ? ` (${(r.cpuRatio / s.cpuRatio).toFixed(2)} by CPU)` : ""),
      );
    lines.push(
      `NOTE  ${s.label}: ${s.ratio.toFixed(2)}x ${s.baseline} in req/s` +
        (s.cpuRatio === undefined ? "" : `, ${s.cpuRatio.toFixed(2)}x by CPU`) +
        (against.length === 0 ? "" : `; against it: ${against.join(", ")}`),
    );
  }
  // What an asymmetric signing key costs against HS256 on the same route (no target: a choice).
  const hs256 = by.get("sqlite-profile");
  for (const id of ["sqlite-profile-eddsa", "sqlite-profile-es256"]) {
    const r = by.get(id);
    if (!r || !hs256) continue;
    const cpu =
      r.cpuUsPerRequest !== undefined && hs256.cpuUsPerRequest !== undefined
        ? `, ${(hs256.cpuUsPerRequest / r.cpuUsPerRequest).toFixed(2)} by CPU`
        : "";
    lines.push(
      `NOTE  ${r.label}: ${(r.rps / hs256.rps).toFixed(2)} of HS256's GET /profile (2b) in req/s${cpu}; p99 ${r.p99.toFixed(2)} ms`,
    );
  }
  const target = (id: string, min: number) => {
    const r = by.get(id);
    if (!r) return;
    const cpu = r.cpuRatio === undefined ? "" : `, ${r.cpuRatio.toFixed(2)} by server CPU per request`;
    const pass = r.ratio >= min && (r.cpuRatio === undefined || r.cpuRatio >= min);
    lines.push(
      `${pass ? "PASS" : "MISS"}  ${r.label}: ${r.ratio.toFixed(2)} of ${r.baseline} in req/s${cpu} (target >= ${min.toFixed(2)})`,
    );
  };
  target("sqlite-notes", 0.9);
  target("sqlite-bench", 0.9);
  target("pgredis-1", 0.85);
  target("pgredis-2", 0.85);
  target("sqlite-profile", 0.9);
  target("pgredis-profile", 0.85);
  for (const r of results) {
    if (r.baseline !== r.id && !REFERENCES.has(r.id) && !r.id.endsWith("-storm")) {
      lines.push(`${r.p99 < 5 ? "PASS" : "MISS"}  ${r.label}: p99 ${r.p99.toFixed(2)} ms (target < 5 ms)`);
    }
  }
  // Each storm beside its calm twin (the same case without logins). The verdict is the paced
  // pair's: under a load as fast as the server answers, the delay is a queue for the two cores
  // (the calm case's own p99 is above 2 ms there), which says nothing of what logins do to the loop.
  for (const storm of results.filter((r) => r.id.endsWith("-storm"))) {
    const calm = by.get(storm.id.slice(0, -"-storm".length)) ?? by.get("sqlite-notes");
    if (calm) lines.push(...stormLines(calm, storm, machine, storm.id.includes("paced")));
  }
  const control = by.get("limit-paced")?.eventLoop;
  if (control) {
    lines.push(
      `NOTE  the machine's floor: the limit server (no tokenver, no store) at the same pace: event-loop delay p99 ` +
        `${control.p99.toFixed(2)} ms, max ${control.max.toFixed(1)} ms (case 4c)`,
    );
  }
  const hashing = by.get("limit-paced-hashing")?.eventLoop;
  if (hashing) {
    lines.push(
      `NOTE  the floor under the storm: the same, while another process hashes at the storm's rate: event-loop delay p99 ` +
        `${hashing.p99.toFixed(2)} ms, max ${hashing.max.toFixed(1)} ms (case 4d)`,
    );
  }
  return lines;
}

function stormLines(calm: CaseResult, storm: CaseResult, machine: Machine, judged: boolean): string[] {
  const lines: string[] = [];
  const logins = storm.storms.reduce((n, s) => n + s.ok, 0);
  const attempted = storm.storms.reduce((n, s) => n + s.attempted, 0);
  // A storm whose logins failed (throttled, refused) cost the route nothing: no verdict from it.
  const voided = logins < 0.95 * attempted;
  const loop = storm.eventLoop;
  const calmLoop = calm.eventLoop;
  if (loop) {
    const verdict = !judged ? "NOTE" : voided ? "VOID" : loop.p99 < 2 ? "PASS" : "MISS";
    const load = judged ? `at a paced load (${Math.round(storm.rps).toLocaleString("en-US")} req/s)` : "under a saturating load";
    lines.push(
      `${verdict}  login storm ${load}: the server's event-loop delay p99 ${loop.p99.toFixed(2)} ms while logins run ` +
        `(${calmLoop ? `${calmLoop.p99.toFixed(2)} ms without them, ` : ""}max ${loop.max.toFixed(1)} ms; target < 2 ms)`,
    );
  }
  const factor = storm.p99 / Math.max(calm.p99, 0.01);
  lines.push(
    `      protected-route p99 ${calm.p99.toFixed(2)} -> ${storm.p99.toFixed(2)} ms (x${factor.toFixed(2)}), req/s x${(storm.rps / calm.rps).toFixed(2)}`,
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
      `of ${machine.cores} cores (${Math.round((100 * demand) / machine.cores)}%); the server hashes on ${machine.hashThreads} thread(s): at most ` +
      `${Math.round((machine.hashThreads * 1000) / machine.argon2Ms)} logins/s`,
  );
  const seconds = median(storm.rounds.map((r) => r.seconds));
  if (loop && loop.mainThreadCpuMs !== undefined && calmLoop?.mainThreadCpuMs !== undefined) {
    const offMain = loop.processCpuMs - loop.mainThreadCpuMs;
    const calmOffMain = calmLoop.processCpuMs - calmLoop.mainThreadCpuMs;
    const share = (100 * (offMain - calmOffMain)) / 1000 / (seconds * machine.cores);
    const mainPerRequest = (1000 * loop.mainThreadCpuMs) / Math.max(1, median(storm.rounds.map((r) => r.requests)));
    const calmMainPerRequest = (1000 * calmLoop.mainThreadCpuMs) / Math.max(1, median(calm.rounds.map((r) => r.requests)));
    lines.push(
      `      measured in the server: threads other than the main one used ${(offMain / 1000).toFixed(2)} s of CPU per ${seconds} s round ` +
        `(${(calmOffMain / 1000).toFixed(2)} s without the storm): the storm's share of the ${machine.cores} cores is ${share.toFixed(0)}%; ` +
        `main-thread CPU per protected request ${calmMainPerRequest.toFixed(1)} -> ${mainPerRequest.toFixed(1)} µs (argon2id runs off the main thread)`,
    );
  }
  return lines;
}

/** The verdicts, then how to read the table. */
export function printNotes(notes: string[]): void {
  process.stdout.write(`\n${notes.join("\n")}\n`);
  process.stdout.write(
    "\nratio: req/s over the case named in `vs`, run right before it in each round (median of the rounds' pairs); ratio by CPU:\n" +
      "its server CPU per request over this case's " +
      "(the throughput ratio on a core of its own). /notes cases are compared with 1 (fast-jwt verify alone), /profile cases\n" +
      "with 1c (fast-jwt verify + a prepared user-row read). `of hello`: req/s over the static route's; LG marks load-generator-bound.\n",
  );
}

export function printFlows(flows: FlowResult[], machine: Machine): void {
  if (flows.length === 0) return;
  process.stdout.write("\nwrite paths (closed loop, bench app over SQLite):\n");
  for (const f of flows) {
    const bound =
      f.kind === "refresh"
        ? "no argon2id: a transaction with an fsync'd commit"
        : `argon2id-bound: ${machine.argon2Ms.toFixed(1)} ms each on ${machine.hashThreads} hashing thread(s), at most ` +
          `${Math.round((machine.hashThreads * 1000) / machine.argon2Ms)}/s here`;
    const others = Object.keys(f.others).length === 0 ? "" : `, not ok: ${JSON.stringify(f.others)}`;
    const cpu = f.cpuMsPerOp === undefined ? "" : `, server CPU ${f.cpuMsPerOp.toFixed(2)} ms/op`;
    process.stdout.write(
      `  ${({ register: "registrations", login: "logins", refresh: "refreshes" }[f.kind] ?? f.kind).padEnd(14)} ${f.rate.toFixed(1).padStart(8)}/s  p50 ${f.p50} ms  p99 ${f.p99} ms${cpu}${others}  (${bound})\n`,
    );
  }
}

export function printMemory(memory: MemoryResult | undefined): void {
  if (memory === undefined) return;
  const mb = (bytes: number) => (bytes / 1_048_576).toFixed(1);
  process.stdout.write(
    `\nmemory: node revocation cache ${mb((memory.revocationCacheBytesPerSession * 100_000) / 1)} MB per 100,000 cached sessions ` +
      `(${memory.revocationCacheBytesPerSession.toFixed(0)} bytes each with their id strings); verified-token cache ` +
      `${mb(memory.verifiedTokenCacheBytes)} MB full (${memory.verifiedTokens.toLocaleString("en-US")} tokens, ` +
      `${memory.verifiedTokenBytesPerToken.toFixed(0)} bytes each with the token string)\n`,
  );
}

/** --out: results.json (everything measured, and how) and chart.svg. */
export function writeReport(
  dir: string,
  run: {
    options: Options;
    results: CaseResult[];
    skipped: Skipped[];
    notes: string[];
    machine: Machine;
    loadAtStart: number | undefined;
    flows: FlowResult[];
    memory: MemoryResult | undefined;
    peers: unknown;
  },
  log: (message: string) => void,
): void {
  const { options, results, skipped, notes, machine, loadAtStart, flows, memory, peers } = run;
  const out = resolve(dir);
  mkdirSync(out, { recursive: true });
  const report = {
    date: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
    machine: {
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      argon2VerifyMs: machine.argon2Ms,
      hashThreads: machine.hashThreads,
      loadGenerator: machine.load,
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadavg()[0],
    },
    options: { ...options, pg: undefined, redis: undefined },
    connections: CONNECTIONS,
    results,
    skipped,
    verdicts: notes,
    flows,
    memory,
    peers,
  };
  writeFileSync(join(out, "results.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(
    join(out, "chart.svg"),
    renderChart(
      results,
      `${options.users.toLocaleString("en-US")} users, ${CONNECTIONS} connections, ${machine.load}, medians of ${options.rounds} rounds`,
    ),
  );
  log(`wrote ${join(out, "results.json")} and ${join(out, "chart.svg")}`);
}
